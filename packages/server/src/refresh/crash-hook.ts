/**
 * TEST-ONLY crash injection for the refresh write path. When `OPENSHELL_TEST_CRASH_AT` names a step,
 * the gateway process kills itself with SIGKILL at that step, so tests can prove what survives a
 * crash. Steps: `before-token-request`, `after-token-response`, `after-commit`. Never set it in
 * production; it exists so the crash window of DESIGN §5 is tested, not assumed.
 */

/** The write-path steps at which a test may crash the process. */
export const CRASH_STEPS = ['before-token-request', 'after-token-response', 'after-commit'] as const;
/** One of {@link CRASH_STEPS}. */
export type CrashStep = (typeof CRASH_STEPS)[number];

/** The environment variable naming the step to crash at (test-only). */
export const CRASH_ENV = 'OPENSHELL_TEST_CRASH_AT';

/** Returns a synchronous hook: kills the process at `step` when configured, otherwise does nothing. */
export function crashHookFrom(value: string | undefined): (step: CrashStep) => void {
  const wanted = CRASH_STEPS.find((s) => s === value);
  if (wanted === undefined) return () => {};
  return (step) => {
    if (step === wanted) process.kill(process.pid, 'SIGKILL');
  };
}
