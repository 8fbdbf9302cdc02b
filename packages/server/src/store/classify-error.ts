import { OpenShellError } from '@openshell/core';
import { StoreError, type StoreErrorCode } from './errors.js';

/** A driver error reduced to a reason; `foreign_key` is resolved by the caller into a StoreError. */
export type DriverErrorReason = Exclude<StoreErrorCode, 'in_use' | 'key_mismatch' | 'conflict' | 'not_found'> | 'foreign_key' | 'conflict';

const SQLITE_REASONS: ReadonlyArray<[RegExp, DriverErrorReason]> = [
  [/^SQLITE_CONSTRAINT_(UNIQUE|PRIMARYKEY)$/, 'already_exists'],
  [/^SQLITE_CONSTRAINT_FOREIGNKEY$/, 'foreign_key'],
  [/^SQLITE_(BUSY|LOCKED)/, 'busy'],
  [/^SQLITE_(CORRUPT|NOTADB|FORMAT|MISMATCH)/, 'corrupt'],
  [/^SQLITE_(CANTOPEN|IOERR|READONLY|FULL|PERM|AUTH|NOMEM|INTERRUPT|PROTOCOL)/, 'unavailable'],
];

const POSTGRES_REASONS: ReadonlyArray<[RegExp, DriverErrorReason]> = [
  [/^23505$/, 'already_exists'],
  [/^23503$/, 'foreign_key'],
  [/^(40001|40P01)$/, 'conflict'], // serialization failure, deadlock: a concurrent writer won
  [/^(55P03|53300|53400|57014)$/, 'busy'], // lock not available, too many connections, limits, cancelled
  [/^(XX001|XX002)$/, 'corrupt'], // data corrupted, index corrupted
  [/^(08...|57P0[1-4]|53100|53200|3D000|28...)$/, 'unavailable'], // connection, shutdown, disk/memory, no db, auth
];

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'EPIPE', 'EAI_AGAIN']);

const MESSAGES: Record<DriverErrorReason, string> = {
  already_exists: 'a record with this name already exists',
  foreign_key: 'a referenced record does not exist or is still referenced',
  conflict: 'a concurrent writer changed the data: re-read and retry',
  busy: 'the database is busy: retry shortly',
  corrupt: 'stored data cannot be read: the database may be damaged; restore it from a backup',
  unavailable: 'the database is unavailable: check that it is running and reachable',
};

/** Classifies a SQLite or Postgres driver error into the store's reasons (driver codes never leak). */
export function classifyDriverError(error: unknown): DriverErrorReason | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') {
    const message = error instanceof Error ? error.message : '';
    if (/Connection terminated|connection timeout|Client has encountered a connection error|Cannot use a pool after calling end|timeout exceeded when trying to connect/i.test(message)) return 'unavailable';
    return undefined;
  }
  if (NETWORK_CODES.has(code)) return 'unavailable';
  for (const [pattern, reason] of code.startsWith('SQLITE_') ? SQLITE_REASONS : POSTGRES_REASONS) {
    if (pattern.test(code)) return reason;
  }
  if (code.startsWith('SQLITE_')) return 'unavailable';
  return undefined;
}

/**
 * Turns any thrown value into a StoreError: OpenShell errors pass through; driver errors become
 * their reason (`foreign_key` → `not_found`); anything else becomes `unavailable`. The driver's
 * message is kept only as the cause (it can quote values, so it never reaches the message).
 */
export function toStoreError(error: unknown): OpenShellError {
  if (OpenShellError.isInstance(error)) return error;
  const reason = classifyDriverError(error) ?? 'unavailable';
  const code: StoreErrorCode = reason === 'foreign_key' ? 'not_found' : reason;
  const driverCode = (error as { code?: unknown } | null)?.code;
  return new StoreError(code, `store: ${MESSAGES[reason]}`, {
    cause: error,
    details: typeof driverCode === 'string' ? { driverCode, reason } : { reason },
  });
}
