import { OpenShellError } from '@openshell/core';
import { type RouterErrorCode, statusForRouterCode } from './error-codes.js';

export type { RouterErrorCode } from './error-codes.js';

/**
 * The one error type of @openshell/router. `code` is stable (see error-codes.ts), `status` is the HTTP
 * status the client sees. Messages never contain a credential or a client header value.
 */
export class RouterError extends OpenShellError<RouterErrorCode> {
  constructor(code: RouterErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, options);
    this.name = 'RouterError';
  }

  /** HTTP status of this error, from the code table. */
  get status(): number {
    return statusForRouterCode(this.code);
  }

  /** True when retrying the same request later may succeed (timeouts and upstream failures). */
  get isRetryable(): boolean {
    const s = this.status;
    return s === 502 || s === 503 || s === 504;
  }

  /** True for a RouterError from any copy of this package. */
  static isRouterError(value: unknown): value is RouterError {
    return OpenShellError.isInstance(value) && value.name === 'RouterError';
  }
}
