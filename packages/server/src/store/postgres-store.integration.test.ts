import { randomBytes } from 'node:crypto';
import { waitUntil } from '@openshell/testing';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { describeWithPostgres, dropSchema, testSchemaName, withPgClient } from '../testing-fixtures/postgres.js';
import { describeStoreContract } from '../testing-fixtures/store-contract.js';
import { StoreError } from './errors.js';
import { openStore } from './open-store.js';
import { changeChannel, openPostgresStore, parseNotification, WILDCARD_CHANGE } from './postgres-store.js';
import type { StoreChange } from './types.js';

const TABLES = ['meta', 'providers', 'inference_routes', 'sandboxes', 'sandbox_providers', 'sandbox_tokens', 'refresh_states', 'schema_migrations'];

describeWithPostgres('store', 'the Postgres store', (databaseUrl) => {
  const withClient = <T>(fn: (client: pg.Client) => Promise<T>) => withPgClient(databaseUrl, fn);

  describeStoreContract('postgres', {
    crossInstanceChanges: true,
    async fresh() {
      const schema = testSchemaName();
      return {
        open: (options) => openPostgresStore({ url: databaseUrl, schema, poolSize: 4, ...options }),
        rawContents: () =>
          withClient(async (client) => {
            const parts: string[] = [];
            for (const table of TABLES) {
              const { rows } = await client.query(`SELECT row_to_json(t)::text AS j FROM "${schema}"."${table}" t`);
              parts.push(...rows.map((r: { j: string }) => r.j));
            }
            return parts.join('\n');
          }),
        swapSealedCredentials: (a, b) =>
          withClient(async (client) => {
            await client.query(
              `UPDATE "${schema}".providers p SET credentials = o.credentials FROM "${schema}".providers o
               WHERE (p.name = $1 AND o.name = $2) OR (p.name = $2 AND o.name = $1)`,
              [a, b],
            );
          }),
        dispose: () => dropSchema(databaseUrl, schema),
      };
    },
  });

  describe('openPostgresStore (Postgres specifics)', () => {
    it('migrates once when two replicas start together, and openStore picks Postgres by URL', async () => {
      const schema = testSchemaName();
      const kek = randomBytes(32);
      try {
        const [a, b] = await Promise.all([
          openPostgresStore({ url: databaseUrl, schema, kek, poolSize: 2 }),
          openStore({ dataDir: '/nonexistent-not-used', databaseUrl, schema, kek }),
        ]);
        expect(b.dialect).toBe('postgres');
        await a.createProvider({ name: 'p', type: 'openai', credentials: { OPENAI_API_KEY: 'k' } });
        expect((await b.getProvider('p'))?.credentials).toEqual({ OPENAI_API_KEY: 'k' });
        const versions = await withClient((c) => c.query(`SELECT version FROM "${schema}".schema_migrations`));
        expect(versions.rows).toEqual([{ version: 1 }]);
        await Promise.all([a.close(), b.close()]);
      } finally {
        await dropSchema(databaseUrl, schema);
      }
    });

    it('re-listens after its LISTEN connection is killed, announces a wildcard change, and keeps delivering', async () => {
      const schema = testSchemaName();
      const kek = randomBytes(32);
      const a = await openPostgresStore({ url: databaseUrl, schema, kek, poolSize: 2 });
      const b = await openPostgresStore({ url: databaseUrl, schema, kek, poolSize: 2 });
      try {
        const seen: StoreChange[] = [];
        b.watchChanges((c) => seen.push(c));
        const killed = await withClient((c) =>
          c.query(
            `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = 'openshell-gateway-listen' AND query = $1`,
            [`LISTEN "${changeChannel(schema)}"`],
          ),
        );
        expect(killed.rowCount).toBe(2); // both replicas' listeners
        await waitUntil(() => seen.some((c) => c.name === '*'), 'the wildcard change after the reconnect');
        expect(seen).toContainEqual(WILDCARD_CHANGE);
        await a.createProvider({ name: 'after-reconnect', type: 'openai', credentials: {} });
        await waitUntil(() => seen.some((c) => c.name === 'after-reconnect'), 'the change made after the reconnect');
      } finally {
        await Promise.all([a.close(), b.close()]);
        await dropSchema(databaseUrl, schema);
      }
    });

    it('reports an unreachable database as unavailable', async () => {
      const error = await openPostgresStore({ url: 'postgres://postgres@127.0.0.1:1/none', schema: testSchemaName(), kek: randomBytes(32) }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(StoreError.is(error, 'unavailable'), String(error)).toBe(true);
    });

    it('rejects a schema name that is not a plain identifier', async () => {
      const error = await openPostgresStore({ url: databaseUrl, schema: 'x"; DROP TABLE y; --', kek: randomBytes(32) }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(StoreError.is(error)).toBe(true);
      expect((error as Error).message).toMatch(/schema name/);
    });
  });
});

describe('parseNotification', () => {
  it('drops its own notifications and malformed entries', () => {
    const change = { kind: 'provider', name: 'p', op: 'update' };
    expect(parseNotification(JSON.stringify({ o: 'other', c: [change, { kind: 'bogus', name: 'x', op: 'update' }] }), 'me')).toEqual([change]);
    expect(parseNotification(JSON.stringify({ o: 'me', c: [change] }), 'me')).toEqual([]);
    expect(parseNotification('not json', 'me')).toEqual([]);
  });
});
