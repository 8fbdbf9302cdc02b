import { OpenShellError } from '@openshell/core';

/**
 * Error codes of the refresh API, their HTTP status and how to fix them. The same codes appear in
 * the gateway's table (error-codes.ts); this one is what the refresh routes answer with.
 */
export const REFRESH_ERROR_CODES = {
  invalid_request: { status: 400, fix: 'Correct the named field and send the request again.' },
  provider_not_found: { status: 404, fix: 'List providers with `openshell provider list`.' },
  route_not_found: { status: 404, fix: 'The sandbox reported a route this gateway does not have; refetch the bundle.' },
  forbidden: { status: 403, fix: 'A sandbox may only report routes whose provider is bound to it.' },
  refresh_not_configured: { status: 404, fix: 'Configure it with `openshell provider refresh configure NAME`.' },
  reauth_required: { status: 409, fix: 'Re-authorize: `openshell provider update NAME --from-claude-login` (or `--oauth-login`).' },
  refresh_failed: { status: 502, fix: 'See `lastError` in `openshell provider refresh status NAME`; the current token is served until it expires and the refresh is retried with backoff.' },
  resource_version_conflict: { status: 409, fix: 'The configuration changed meanwhile; read it again and retry.' },
} as const satisfies Record<string, { status: number; fix: string }>;

/** Stable code of a {@link RefreshError}. */
export type RefreshErrorCode = keyof typeof REFRESH_ERROR_CODES;

/** An error of the refresh engine's API; `message` never contains a secret. */
export class RefreshError extends OpenShellError<RefreshErrorCode> {
  readonly status: number;
  constructor(code: RefreshErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, options);
    this.name = 'RefreshError';
    this.status = REFRESH_ERROR_CODES[code].status;
  }
}
