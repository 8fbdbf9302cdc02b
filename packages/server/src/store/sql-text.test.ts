import { describe, expect, it } from 'vitest';
import { quoteIdentifier, SCHEMA_NAME, toPositional, withSchema } from './sql-text.js';

describe('toPositional', () => {
  it('rewrites numbered placeholders in order of appearance, repeating values as needed', () => {
    expect(toPositional('UPDATE t SET a = $2, b = $1 WHERE c = $2 AND d = $10', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])).toEqual({
      sql: 'UPDATE t SET a = ?, b = ? WHERE c = ? AND d = ?',
      params: [2, 1, 2, 10],
    });
  });
  it('refuses a placeholder without a parameter', () => {
    expect(() => toPositional('SELECT $2', [1])).toThrow(RangeError);
  });
});

describe('withSchema', () => {
  it('qualifies tables for Postgres and leaves SQLite bare', () => {
    expect(withSchema('SELECT * FROM {s}providers p JOIN {s}routes r', 'tenant_1')).toBe('SELECT * FROM "tenant_1".providers p JOIN "tenant_1".routes r');
    expect(withSchema('SELECT * FROM {s}providers', undefined)).toBe('SELECT * FROM providers');
  });
  it('quotes identifiers and only admits plain schema names', () => {
    expect(quoteIdentifier('a"b')).toBe('"a""b"');
    expect(SCHEMA_NAME.test('openshell_test_abc123')).toBe(true);
    expect(SCHEMA_NAME.test('x"; DROP')).toBe(false);
    expect(SCHEMA_NAME.test('1abc')).toBe(false);
  });
});
