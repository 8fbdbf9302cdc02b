const MARKER = Symbol.for('openshell.cli-error');

/** Exit code of a successful `openshell` command. */
export const EXIT_OK = 0;
/** Exit code of a command that failed. */
export const EXIT_FAILURE = 1;
/** Exit code of a usage error (unknown flag, bad flag combination). */
export const EXIT_USAGE = 2;

/**
 * An error the CLI reports to the user: a message that names the problem, an optional next step, a
 * stable `code` and an exit code. Messages never contain a secret value.
 */
export class CliError extends Error {
  readonly [MARKER] = true;
  readonly code: string;
  readonly hint: string | undefined;
  readonly exitCode: number;

  constructor(code: string, message: string, options?: { hint?: string; exitCode?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.code = code;
    this.hint = options?.hint;
    this.exitCode = options?.exitCode ?? EXIT_FAILURE;
  }

  /** True for any CliError, also across duplicated copies of this package. */
  static isInstance(value: unknown): value is CliError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MARKER] === true;
  }
}

/** A usage error (exit 2): a flag combination or value the command cannot accept. */
export function usageError(message: string, hint?: string): CliError {
  return new CliError('usage', message, { exitCode: EXIT_USAGE, ...(hint === undefined ? {} : { hint }) });
}
