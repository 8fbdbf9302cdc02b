const MARKER = Symbol.for('openshell.error');

/** Stable error codes raised by @openshell/core; documented in docs/reference/errors.mdx. */
export type CoreErrorCode =
  | 'unsupported_provider_type'
  | 'invalid_profile'
  | 'duplicate_environment_key'
  | 'invalid_bundle'
  | 'unsupported_bundle'
  | 'invalid_credential_file';

/**
 * Base class for every OpenShell-TS error. `code` is a stable string; `isInstance` works across
 * duplicated copies of the package because it checks a `Symbol.for` marker, not the prototype chain.
 */
export class OpenShellError<C extends string = string> extends Error {
  readonly [MARKER] = true;
  readonly code: C;
  /** Extra structured detail (never a secret). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: C, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OpenShellError';
    this.code = code;
    this.details = options?.details;
  }

  /** True for any OpenShellError, from any copy of any @openshell package. */
  static isInstance(value: unknown): value is OpenShellError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MARKER] === true;
  }
}

/** An error raised by @openshell/core itself. */
export class CoreError extends OpenShellError<CoreErrorCode> {
  constructor(code: CoreErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, options);
    this.name = 'CoreError';
  }
}
