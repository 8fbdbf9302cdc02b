import { parseRouteBundle } from '@openshell/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './testing-fixtures/gateway-fixture.js';

let t: TestGateway;
beforeEach(async () => {
  t = await startTestGateway();
});
afterEach(async () => {
  await t.close();
});

describe('gateway basics', () => {
  it('answers /healthz and /readyz without a token', async () => {
    expect((await t.call('GET', '/healthz', { token: null })).json).toEqual({ status: 'ok' });
    const ready = await t.call('GET', '/readyz', { token: null });
    expect(ready.status).toBe(200);
    expect(ready.json).toEqual({ status: 'ready', store: 'sqlite' });
  });

  it('creates a provider and a sandbox and serves a bundle that parses', async () => {
    const created = await t.call('POST', '/v1/providers', {
      body: { name: 'plan', type: 'claude-plan', credentials: { ANTHROPIC_OAUTH_TOKEN: 'sk-ant-oat01-canary-0123456789' } },
    });
    expect(created.status).toBe(201);
    expect(created.json.type).toBe('anthropic-oauth');
    expect(created.json.credentials).toEqual({ ANTHROPIC_OAUTH_TOKEN: 'REDACTED' });
    const route = await t.call('PUT', '/v1/inference/routes/inference.local', { body: { provider: 'plan', verify: false } });
    expect(route.status).toBe(200);
    const sb = await t.call('POST', '/v1/sandboxes', { body: { name: 'dev', providers: ['plan'] } });
    expect(sb.status).toBe(201);
    const bundle = await t.call('GET', '/v1/sandbox/bundle', { token: sb.json.token });
    expect(bundle.status).toBe(200);
    const parsed = parseRouteBundle(bundle.json);
    expect(parsed.routes[0]?.auth.value).toBe('sk-ant-oat01-canary-0123456789');
  });
});
