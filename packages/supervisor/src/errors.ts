import { OpenShellError } from '@openshell/core';

/** Stable error codes raised by @openshell/supervisor. */
export type SupervisorErrorCode =
  /** Command-line or option misuse; the message says which flag. */
  | 'usage'
  /** No sandbox token was given (neither `token` nor `--token-fd`), or the descriptor was empty. */
  | 'token_missing'
  /** The gateway refused the sandbox token (401/403): the token is wrong, expired or for another sandbox. */
  | 'gateway_rejected'
  /** The gateway could not be reached or answered with an unexpected status. */
  | 'gateway_unreachable'
  /** The gateway answered something that is not a valid environment or bundle. */
  | 'gateway_protocol'
  /** `--isolation bwrap` was asked for but cannot be provided here. */
  | 'isolation_unavailable'
  /** The child command could not be started. */
  | 'child_spawn_failed';

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
