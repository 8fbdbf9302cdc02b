import { OpenShellError } from '@openshell/core';

/**
 * Why a store operation failed. Driver errors (SQLite and Postgres) are classified into the same
 * reasons, so callers never look at a driver's own codes.
 */
export type StoreErrorCode =
  /** Compare-and-swap lost: the record changed since it was read. */
  | 'conflict'
  /** The record (or a record it references) does not exist. */
  | 'not_found'
  /** A record with this name already exists. */
  | 'already_exists'
  /** The record is referenced by others (provider used by a route or sandbox). */
  | 'in_use'
  /** The database cannot be reached or refused the connection. */
  | 'unavailable'
  /** The database is locked or overloaded; retry shortly. */
  | 'busy'
  /** Stored data cannot be read back (bad ciphertext, malformed row, damaged file). */
  | 'corrupt'
  /** This gateway's key-encryption key does not match the one the store was sealed with. */
  | 'key_mismatch';

/** An error raised by the gateway store. */
export class StoreError extends OpenShellError<StoreErrorCode> {
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, options);
    this.name = 'StoreError';
  }

  /** True for a StoreError (from any copy of this package), optionally with a given code. */
  static is(value: unknown, code?: StoreErrorCode): value is StoreError {
    return OpenShellError.isInstance(value) && value.name === 'StoreError' && (code === undefined || value.code === code);
  }
}

/** A `conflict` error for a record of `kind` named `name`. */
export function conflictError(kind: string, name: string, expected: number, current?: number): StoreError {
  const now = current === undefined ? '' : ` (it is now at ${current})`;
  return new StoreError(
    'conflict',
    `${kind} "${name}" changed since resourceVersion ${expected}${now}: re-read it and retry with its current resourceVersion`,
    { details: { kind, name, expected, ...(current === undefined ? {} : { current }) } },
  );
}

/** A `not_found` error for a record of `kind` named `name`. */
export function notFoundError(kind: string, name: string): StoreError {
  return new StoreError('not_found', `${kind} "${name}" does not exist`, { details: { kind, name } });
}

/** An `already_exists` error for a record of `kind` named `name`. */
export function alreadyExistsError(kind: string, name: string): StoreError {
  return new StoreError('already_exists', `${kind} "${name}" already exists: choose another name or update it`, {
    details: { kind, name },
  });
}
