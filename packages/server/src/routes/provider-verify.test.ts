import { createFakeAnthropic, type FakeAnthropic, headerValue } from '@openshell/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../testing-fixtures/gateway-fixture.js';

const GOOD = 'sk-ant-oat01-verify-good-token-0001';

let t: TestGateway;
let fake: FakeAnthropic;
beforeEach(async () => {
  t = await startTestGateway();
  fake = await createFakeAnthropic({ accessTokens: [GOOD] });
});
afterEach(async () => {
  await t.close();
  await fake.close();
});

async function plan(token: string) {
  await t.call('POST', '/v1/providers', {
    body: { name: 'plan', type: 'anthropic-oauth', credentials: { ANTHROPIC_OAUTH_TOKEN: token }, config: { ANTHROPIC_OAUTH_BASE_URL: `${fake.url}/v1` } },
  });
}

describe('POST /v1/providers/:name/verify', () => {
  it('probes with the route header policy and saves nothing', async () => {
    await plan(GOOD);
    const res = await t.call('POST', '/v1/providers/plan/verify', { body: { model: 'claude-sonnet-4-6' } });
    expect(res.status).toBe(200);
    expect(res.json.verification).toMatchObject({ performed: true, status: 400, method: 'POST', url: `${fake.url}/v1/messages` });
    expect(headerValue(fake.requests[0]!, 'anthropic-beta')).toContain('oauth-2025-04-20');
    expect((await t.call('GET', '/v1/inference/routes')).json.routes).toEqual([]);
    const none = await t.call('POST', '/v1/providers/plan/verify');
    expect(none.json.verification).toMatchObject({ method: 'GET', status: 200 });
  });

  it('fails with verification_failed, route_unusable or provider_not_found', async () => {
    await plan('sk-ant-oat01-verify-bad-token-0002');
    const bad = await t.call('POST', '/v1/providers/plan/verify', { body: {} });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('verification_failed');
    await t.call('POST', '/v1/providers', { body: { name: 'gh', type: 'github', credentials: { GITHUB_TOKEN: 'ghp_verify_token_0001' } } });
    expect((await t.call('POST', '/v1/providers/gh/verify')).json.error.code).toBe('route_unusable');
    const missing = await t.call('POST', '/v1/providers/nope/verify');
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe('provider_not_found');
    expect((await t.call('POST', '/v1/providers/plan/verify', { body: { model: '' } })).status).toBe(400);
  });
});

describe('GET /v1/gateway', () => {
  it('reports name, version, store and refresh health', async () => {
    await plan(GOOD);
    await t.gw.store.putRefreshConfig({ provider: 'plan', key: 'ANTHROPIC_OAUTH_TOKEN', strategy: 'oauth2_refresh_token', material: { refresh_token: 'sk-ant-ort01-verify-0001' } });
    const res = await t.call('GET', '/v1/gateway');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ name: 'local', version: '0.1.0', store: 'sqlite', refresh: { total: 1, healthy: 1, error: 0, reauthRequired: 0 } });
    const url = await t.gw.start();
    expect((await t.call('GET', '/v1/gateway')).json.url).toBe(url);
  });
});
