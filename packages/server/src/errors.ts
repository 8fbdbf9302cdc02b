import { OpenShellError } from '@openshell/core';
import type { GatewayErrorCode } from './error-codes.js';

/** An error the gateway answers with `{ error: { code, message } }`; status from error-codes.ts. */
export class GatewayError extends OpenShellError<GatewayErrorCode> {
  /** The request field this error is about (`body.credentials.KEY`), when there is one. */
  readonly field: string | undefined;

  constructor(code: GatewayErrorCode, message: string, options?: { cause?: unknown; field?: string; details?: Record<string, unknown> }) {
    super(code, message, options);
    this.name = 'GatewayError';
    this.field = options?.field;
  }
}
