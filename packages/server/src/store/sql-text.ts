/** Rewrites `$1…$n` placeholders into positional `?` with the params reordered (SQLite). */
export function toPositional(sql: string, params: readonly unknown[]): { sql: string; params: unknown[] } {
  const ordered: unknown[] = [];
  const text = sql.replace(/\$(\d+)/g, (_, n: string) => {
    const index = Number(n) - 1;
    if (index < 0 || index >= params.length) throw new RangeError(`SQL placeholder $${n} has no parameter`);
    ordered.push(params[index]);
    return '?';
  });
  return { sql: text, params: ordered };
}

/** Replaces the `{s}` schema token: `"schema".` on Postgres, nothing on SQLite. */
export function withSchema(sql: string, schema: string | undefined): string {
  return sql.replace(/\{s\}/g, schema === undefined ? '' : `${quoteIdentifier(schema)}.`);
}

/** Quotes a SQL identifier. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A valid unquoted-style schema name (tests generate `openshell_test_<random>`). */
export const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
