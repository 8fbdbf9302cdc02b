import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRouteBundle } from '@openshell/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './testing-fixtures/gateway-fixture.js';
import { describeWithPostgres, dropSchema, testSchemaName } from './testing-fixtures/postgres.js';

describeWithPostgres('gateway', 'two gateways on one Postgres', (databaseUrl) => {
  const schema = testSchemaName('openshell_gw');
  const kek = randomBytes(32);
  let dir: string;
  let a: TestGateway;
  let b: TestGateway;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'osgw-replicas-'));
    const configDir = join(dir, 'config');
    a = await startTestGateway({ dir: join(dir, 'a'), configDir, databaseUrl, databaseSchema: schema, kek });
    b = await startTestGateway({ dir: join(dir, 'b'), configDir, databaseUrl, databaseSchema: schema, kek });
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await dropSchema(databaseUrl, schema);
    await rm(dir, { recursive: true, force: true });
  });

  it('share one admin token and one store', async () => {
    expect(b.adminToken).toBe(a.adminToken);
    expect((await b.call('GET', '/readyz', { token: null })).json).toEqual({ status: 'ready', store: 'postgres' });
    await a.call('POST', '/v1/providers', { body: { name: 'plan', type: 'anthropic-oauth', credentials: { ANTHROPIC_OAUTH_TOKEN: 'sk-ant-oat01-replica-one-0001' } } });
    expect((await b.call('GET', '/v1/providers/plan')).json.fingerprints.ANTHROPIC_OAUTH_TOKEN).toMatch(/^[0-9a-f]{12}$/);
  });

  it('an update on one replica releases a long-poll waiting on the other', async () => {
    await a.call('PUT', '/v1/inference/routes/inference.local', { body: { provider: 'plan', verify: false } });
    const sb = await a.call('POST', '/v1/sandboxes', { body: { name: 'dev', providers: ['plan'] } });
    const token = sb.json.token as string;
    const current = (await b.call('GET', '/v1/sandbox/bundle', { token })).json.revision as string;
    let settled = false;
    const waiting = b.call('GET', `/v1/sandbox/bundle?revision=${current}&waitSeconds=30`, { token }).then((r) => {
      settled = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(settled).toBe(false);
    const version = (await a.call('GET', '/v1/providers/plan')).json.resourceVersion;
    const patched = await a.call('PATCH', '/v1/providers/plan', {
      body: { resourceVersion: version, credentials: { ANTHROPIC_OAUTH_TOKEN: 'sk-ant-oat01-replica-two-0002' } },
    });
    expect(patched.status).toBe(200);
    const deadline = new Promise<'deadline'>((r) => setTimeout(() => r('deadline'), 10_000));
    expect(await Promise.race([waiting, deadline])).not.toBe('deadline');
    const released = await waiting;
    expect(released.json.revision).not.toBe(current);
    expect(parseRouteBundle(released.json).routes[0]?.auth.value).toBe('sk-ant-oat01-replica-two-0002');
  });

  it('admin token rotation on one replica is honoured by the other at once', async () => {
    const rotated = await a.call('POST', '/v1/admin/token/rotate');
    const fresh = rotated.json.token as string;
    // The other replica learns the new hash through the change feed (or its next store read).
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = (await b.call('GET', '/v1/providers', { token: fresh })).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe(200);
    expect((await b.call('GET', '/v1/providers', { token: a.adminToken })).status).toBe(401);
  });
});
