import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, it } from 'vitest';

/** Runs `fn` with a fresh connection to `databaseUrl`, closed afterwards. */
export async function withPgClient<T>(databaseUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A fresh schema name (`<prefix>_<12 hex>`), so each test's tables never meet another run's. */
export function testSchemaName(prefix = 'openshell_test'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

/** Drops a test schema and everything in it. */
export function dropSchema(databaseUrl: string, schema: string): Promise<void> {
  return withPgClient(databaseUrl, async (client) => {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  });
}

/**
 * `describe(title)` with the real Postgres of OPENSHELL_TEST_DATABASE_URL; when it is unset, a visible
 * warning (`[tag] … is SKIPPED`) and a skipped test say so instead.
 */
export function describeWithPostgres(tag: string, title: string, body: (databaseUrl: string) => void): void {
  const databaseUrl = process.env.OPENSHELL_TEST_DATABASE_URL;
  if (databaseUrl === undefined || databaseUrl === '') {
    console.warn(`[${tag}] OPENSHELL_TEST_DATABASE_URL is not set: ${title} is SKIPPED (set it, e.g. postgres://postgres@127.0.0.1:5432/test)`);
    describe(title, () => {
      it.skip('needs OPENSHELL_TEST_DATABASE_URL', () => undefined);
    });
    return;
  }
  describe(title, () => body(databaseUrl));
}
