import { randomBytes } from 'node:crypto';
import { parseRouteBundle } from '@openshell/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './testing-fixtures/gateway-fixture.js';

// The API's error mapping on the Postgres adapter (SQLite is covered by the routes/*.test.ts suites).
const url = process.env.OPENSHELL_TEST_DATABASE_URL;

if (url === undefined || url === '') {
  console.warn('[gateway] OPENSHELL_TEST_DATABASE_URL is not set: the gateway API tests on Postgres are SKIPPED');
  describe('gateway API on Postgres', () => {
    it.skip('needs OPENSHELL_TEST_DATABASE_URL', () => undefined);
  });
} else {
  const databaseUrl = url;
  describe('gateway API on Postgres', () => {
    const schema = `openshell_api_${randomBytes(6).toString('hex')}`;
    let t: TestGateway;
    beforeAll(async () => {
      t = await startTestGateway({ databaseUrl, databaseSchema: schema });
    });
    afterAll(async () => {
      await t?.close();
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    });

    it('maps store outcomes to the same answers as on SQLite', async () => {
      const token = 'sk-ant-oat01-postgres-api-0001';
      expect((await t.call('POST', '/v1/providers', { body: { name: 'plan', type: 'claude-plan', credentials: { ANTHROPIC_OAUTH_TOKEN: token } } })).status).toBe(201);
      const dup = await t.call('POST', '/v1/providers', { body: { name: 'plan', type: 'claude-plan', credentials: { ANTHROPIC_OAUTH_TOKEN: token } } });
      expect(dup.json.error.code).toBe('provider_exists');
      expect((await t.call('PUT', '/v1/inference/routes/inference.local', { body: { provider: 'plan', verify: false } })).status).toBe(200);
      const unknown = await t.call('POST', '/v1/sandboxes', { body: { name: 'dev', providers: ['ghost'] } });
      expect(unknown.json.error.code).toBe('unknown_provider');
      const sb = await t.call('POST', '/v1/sandboxes', { body: { name: 'dev', providers: ['plan'] } });
      expect(sb.status).toBe(201);
      expect((await t.call('POST', '/v1/sandboxes', { body: { name: 'dev' } })).json.error.code).toBe('sandbox_exists');
      const inUse = await t.call('DELETE', '/v1/providers/plan');
      expect(inUse.status).toBe(409);
      expect(inUse.json.error.code).toBe('provider_in_use');
      const results = await Promise.all(
        ['sk-ant-oat01-postgres-api-a', 'sk-ant-oat01-postgres-api-b'].map((v) =>
          t.call('PATCH', '/v1/providers/plan', { body: { resourceVersion: 1, credentials: { ANTHROPIC_OAUTH_TOKEN: v } } }),
        ),
      );
      expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
      const bundle = parseRouteBundle((await t.call('GET', '/v1/sandbox/bundle', { token: sb.json.token })).json);
      expect(bundle.routes[0]?.auth.value).toMatch(/^sk-ant-oat01-postgres-api-[ab]$/);
      expect((await t.call('DELETE', '/v1/sandboxes/dev')).status).toBe(200);
      expect((await t.call('GET', '/v1/sandbox/bundle', { token: sb.json.token })).status).toBe(401);
      const forced = await t.call('DELETE', '/v1/providers/plan?force=true');
      expect(forced.json.deletedRoutes).toEqual(['inference.local']);
    });
  });
}
