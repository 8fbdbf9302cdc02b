import { parseRouteBundle } from '@openshell/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fingerprintSecret } from './crypto/index.js';
import { startTestGateway, type TestGateway } from './testing-fixtures/gateway-fixture.js';

// The refresh engine's routes and metrics as wired into the gateway (the engine itself is tested in src/refresh/).
let t: TestGateway;
let sandboxToken: string;
beforeEach(async () => {
  t = await startTestGateway({ refresh: true });
  await t.call('POST', '/v1/providers', { body: { name: 'plan', type: 'claude-plan', credentials: { ANTHROPIC_OAUTH_TOKEN: 'sk-ant-oat01-wiring-0001' } } });
  await t.call('PUT', '/v1/inference/routes/inference.local', { body: { provider: 'plan', verify: false } });
  sandboxToken = (await t.call('POST', '/v1/sandboxes', { body: { name: 'dev', providers: ['plan'] } })).json.token;
});
afterEach(async () => {
  await t.close();
});

describe('refresh routes behind the gateway auth', () => {
  it('admin endpoints need the admin token', async () => {
    expect((await t.call('GET', '/v1/providers/plan/refresh', { token: null })).status).toBe(401);
    expect((await t.call('GET', '/v1/providers/plan/refresh', { token: sandboxToken })).status).toBe(403);
    const ok = await t.call('GET', '/v1/providers/plan/refresh');
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual({ credentials: [] });
    const configured = await t.call('PUT', '/v1/providers/plan/refresh', { body: { material: { refresh_token: 'sk-ant-ort01-wiring-0001' } } });
    expect(configured.status).toBe(200);
    expect(configured.text).not.toContain('sk-ant-ort01-wiring-0001');
    // The bundle now says the credential is refreshable.
    const bundle = parseRouteBundle((await t.call('GET', '/v1/sandbox/bundle', { token: sandboxToken })).json);
    expect(bundle.routes[0]?.credential.refreshable).toBe(true);
  });

  it('credential-rejected needs the sandbox token and answers the bundle', async () => {
    const fingerprint = fingerprintSecret('sk-ant-oat01-wiring-0001');
    const asAdmin = await t.call('POST', '/v1/sandbox/routes/inference.local/credential-rejected', { body: { fingerprint } });
    expect(asAdmin.status).toBe(403);
    const res = await t.call('POST', '/v1/sandbox/routes/inference.local/credential-rejected', { token: sandboxToken, body: { fingerprint } });
    expect(res.status).toBe(200);
    expect(parseRouteBundle(res.json).routes[0]?.credential.fingerprint).toBe(fingerprint);
  });

  it('/metrics includes the refresh engine metrics', async () => {
    await t.call('PUT', '/v1/providers/plan/refresh', { body: { material: { refresh_token: 'sk-ant-ort01-wiring-0002' } } });
    const res = await t.call('GET', '/metrics');
    expect(res.text).toContain('openshell_refresh_status{');
    expect(res.text).toContain('openshell_gateway_refresh_credentials{status="configured"} 1');
    expect(res.text).not.toContain('sk-ant-ort01-wiring-0002');
  });
});
