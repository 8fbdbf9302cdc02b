/** Pure scheduling arithmetic of the refresh engine: when the next attempt is due. */

/** Refresh this long before expiry when the profile does not say. */
export const DEFAULT_REFRESH_BEFORE_SECONDS = 300;

/** Backoff after a transient failure: the first delay and the cap (the delay doubles in between). */
export interface BackoffPolicy {
  readonly baseMs: number;
  readonly capMs: number;
}

/** Backoff of transient failures: a 10 s ceiling doubling per failure, capped at 15 min (jittered). */
export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 10_000, capMs: 15 * 60_000 };

/**
 * Exponential backoff with "equal jitter": the n-th consecutive failure (n ≥ 1) waits between half and
 * all of `min(cap, base·2^(n-1))`. `random` returns a number in [0, 1).
 */
export function backoffDelayMs(consecutiveFailures: number, policy: BackoffPolicy, random: () => number): number {
  const n = Math.max(1, Math.floor(consecutiveFailures));
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(n - 1, 30));
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.floor(ceiling / 2 + (ceiling / 2) * r);
}

/**
 * When a credential with this expiry should next be refreshed: `expiresAt - refreshBefore`. An unknown
 * expiry (undefined or 0) is due at once, so a freshly configured credential is minted.
 */
export function nextRefreshAt(expiresAt: number | undefined, refreshBeforeSeconds: number | undefined): number {
  if (expiresAt === undefined || expiresAt <= 0) return 0;
  const before = refreshBeforeSeconds !== undefined && refreshBeforeSeconds > 0 ? refreshBeforeSeconds : DEFAULT_REFRESH_BEFORE_SECONDS;
  return expiresAt - before * 1000;
}

/** Expiry of a freshly minted access token: `expires_in` as given, capped only by the profile's max lifetime. */
export function accessTokenExpiresAt(now: number, expiresInSeconds: number | undefined, maxLifetimeSeconds: number | undefined): number | undefined {
  const cap = maxLifetimeSeconds !== undefined && maxLifetimeSeconds > 0 ? maxLifetimeSeconds : undefined;
  let lifetime = expiresInSeconds !== undefined && expiresInSeconds > 0 ? expiresInSeconds : undefined;
  if (cap !== undefined) lifetime = lifetime === undefined ? cap : Math.min(lifetime, cap);
  return lifetime === undefined ? undefined : now + lifetime * 1000;
}
