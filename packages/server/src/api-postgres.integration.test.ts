import { parseRouteBundle } from '@openshell/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './testing-fixtures/gateway-fixture.js';
import { describeWithPostgres, dropSchema, testSchemaName } from './testing-fixtures/postgres.js';

// The API's error mapping on the Postgres adapter (SQLite is covered by the routes/*.test.ts suites).
describeWithPostgres('gateway', 'gateway API on Postgres', (databaseUrl) => {
  const schema = testSchemaName('openshell_api');
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ databaseUrl, databaseSchema: schema });
  });
  afterAll(async () => {
    await t?.close();
    await dropSchema(databaseUrl, schema);
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
