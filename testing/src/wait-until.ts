/**
 * Resolves once `check()` holds, polling every `intervalMs`; rejects with "timed out waiting for
 * <what>" after about `timeoutMs` (counted in polls, so a loaded machine waits longer, never less).
 * Every wait in a test is bounded.
 */
export async function waitUntil(check: () => boolean, what: string, timeoutMs = 10_000, intervalMs = 10): Promise<void> {
  for (let polls = Math.ceil(timeoutMs / intervalMs); polls > 0; polls--) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  if (check()) return;
  throw new Error(`timed out waiting for ${what}`);
}
