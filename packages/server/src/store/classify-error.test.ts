import { describe, expect, it } from 'vitest';
import { classifyDriverError, toStoreError } from './classify-error.js';
import { StoreError } from './errors.js';

function driverError(code: string, message = 'driver says Key (name)=(secret-ish) already exists'): Error {
  return Object.assign(new Error(message), { code });
}

describe('classifyDriverError', () => {
  it.each([
    ['SQLITE_CONSTRAINT_UNIQUE', 'already_exists'],
    ['SQLITE_CONSTRAINT_PRIMARYKEY', 'already_exists'],
    ['SQLITE_CONSTRAINT_FOREIGNKEY', 'foreign_key'],
    ['SQLITE_BUSY', 'busy'],
    ['SQLITE_BUSY_SNAPSHOT', 'busy'],
    ['SQLITE_LOCKED', 'busy'],
    ['SQLITE_CORRUPT', 'corrupt'],
    ['SQLITE_NOTADB', 'corrupt'],
    ['SQLITE_CANTOPEN', 'unavailable'],
    ['SQLITE_IOERR_WRITE', 'unavailable'],
    ['SQLITE_READONLY', 'unavailable'],
    ['SQLITE_FULL', 'unavailable'],
    ['23505', 'already_exists'],
    ['23503', 'foreign_key'],
    ['40001', 'conflict'],
    ['40P01', 'conflict'],
    ['55P03', 'busy'],
    ['53300', 'busy'],
    ['XX001', 'corrupt'],
    ['08006', 'unavailable'],
    ['57P01', 'unavailable'],
    ['3D000', 'unavailable'],
    ['28P01', 'unavailable'],
    ['ECONNREFUSED', 'unavailable'],
    ['ECONNRESET', 'unavailable'],
  ])('%s → %s', (code, reason) => {
    expect(classifyDriverError(driverError(code))).toBe(reason);
  });

  it('leaves unknown errors unclassified, except pg connection messages', () => {
    expect(classifyDriverError(new Error('boom'))).toBeUndefined();
    expect(classifyDriverError(driverError('42P01'))).toBeUndefined();
    expect(classifyDriverError(new Error('Connection terminated unexpectedly'))).toBe('unavailable');
  });
});

describe('toStoreError', () => {
  it('maps SQLite and Postgres codes to the same StoreError code without quoting the driver message', () => {
    const a = toStoreError(driverError('SQLITE_CONSTRAINT_UNIQUE'));
    const b = toStoreError(driverError('23505'));
    expect(StoreError.is(a, 'already_exists')).toBe(true);
    expect(StoreError.is(b, 'already_exists')).toBe(true);
    expect(a.message).toBe(b.message);
    expect(a.message).not.toContain('secret-ish');
    expect(a.details).toMatchObject({ driverCode: 'SQLITE_CONSTRAINT_UNIQUE' });
  });

  it('turns a foreign-key violation into not_found and anything unknown into unavailable', () => {
    expect(toStoreError(driverError('23503')).code).toBe('not_found');
    expect(toStoreError(new TypeError('The database connection is not open')).code).toBe('unavailable');
  });

  it('passes OpenShell errors through unchanged', () => {
    const original = new StoreError('conflict', 'x');
    expect(toStoreError(original)).toBe(original);
  });
});
