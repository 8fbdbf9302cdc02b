import { OpenShellError } from '@openshell/core';

/** Every code a SupervisorError can carry, with what it means and how to fix it (docs and tests read this). */
export const SUPERVISOR_ERROR_CODES = {
  usage: 'Command-line or option misuse; the message names the flag. Fix the command line (see --help).',
  token_missing: 'No sandbox token: neither `token` nor a readable `--token-fd` descriptor. Start the sandbox with `openshell sandbox run`, which hands the token over on a pipe.',
  gateway_rejected: 'The gateway refused the sandbox token (401/403): wrong, expired, or another sandbox\'s. Run `openshell sandbox run` again for a fresh token.',
  gateway_unreachable: 'The gateway could not be reached, or answered with an unexpected status, for as long as the supervisor kept retrying. Start it (`openshell gateway start`) or check the URL.',
  gateway_protocol: 'The gateway answered something that is not a valid environment or route bundle (e.g. an unknown bundle schema version). Upgrade the supervisor to match the gateway.',
  isolation_unavailable: '`--isolation bwrap` was asked for but cannot work here (not Linux, no `bwrap`, or no user namespaces). Install bubblewrap or run with `--isolation none`.',
  child_spawn_failed: 'The command could not be started (not found, not executable). Check the command and PATH.',
} as const;

/** Stable error codes raised by @openshell/supervisor. */
export type SupervisorErrorCode = keyof typeof SUPERVISOR_ERROR_CODES;

/** An error raised by the supervisor; `code` is stable, the message says how to fix it. */
export class SupervisorError extends OpenShellError<SupervisorErrorCode> {
  constructor(
    code: SupervisorErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(code, message, options);
    this.name = 'SupervisorError';
  }
}
