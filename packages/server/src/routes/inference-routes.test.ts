import { createFakeAnthropic, type FakeAnthropic, headerValue } from '@openshell/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../testing-fixtures/gateway-fixture.js';

const GOOD = 'sk-ant-oat01-route-good-token-000111';
const BAD = 'sk-ant-oat01-route-bad-token-999888';

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

async function plan(name: string, token: string, extra: Record<string, unknown> = {}) {
  const res = await t.call('POST', '/v1/providers', {
    body: { name, type: 'anthropic-oauth', credentials: { ANTHROPIC_OAUTH_TOKEN: token }, config: { ANTHROPIC_OAUTH_BASE_URL: `${fake.url}/v1` }, ...extra },
  });
  expect(res.status).toBe(201);
}

describe('PUT /v1/inference/routes/:route with verification', () => {
  it('probes with the full header policy; the Claude-Code-only 400 counts as authenticated', async () => {
    await plan('plan', GOOD);
    const res = await t.call('PUT', '/v1/inference/routes/inference.local', { body: { provider: 'plan', model: 'claude-sonnet-4-6' } });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ name: 'inference.local', provider: 'plan', model: 'claude-sonnet-4-6', resourceVersion: 1 });
    expect(res.json.verification).toMatchObject({ performed: true, status: 400, method: 'POST', url: `${fake.url}/v1/messages` });
    expect(res.json.verification.note).toMatch(/only authorized for Claude Code/);
    const [probe] = fake.requests;
    expect(probe?.path).toBe('/v1/messages');
    expect(headerValue(probe!, 'authorization')).toBe(`Bearer ${GOOD}`);
    expect(headerValue(probe!, 'anthropic-beta')).toContain('oauth-2025-04-20');
    expect(headerValue(probe!, 'anthropic-version')).toBe('2023-06-01');
    expect(res.text).not.toContain(GOOD);
  });

  it('accepts a 200 (Haiku) and probes model discovery when no model is pinned', async () => {
    await plan('plan', GOOD);
    const haiku = await t.call('PUT', '/v1/inference/routes/inference.local', { body: { provider: 'plan', model: 'claude-haiku-4-5' } });
    expect(haiku.json.verification.status).toBe(200);
    const none = await t.call('PUT', '/v1/inference/routes/other', { body: { provider: 'plan' } });
    expect(none.status).toBe(200);
    expect(none.json.verification).toMatchObject({ method: 'GET', status: 200, url: `${fake.url}/v1/models` });
    expect(none.json.model).toBeUndefined();
  });

  it('turns an upstream 401 into a 400 naming the problem, and saves nothing', async () => {
    await plan('plan', BAD);
    const res = await t.call('PUT', '/v1/inference/routes/inference.local', { body: { provider: 'plan', model: 'claude-haiku-4-5' } });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('verification_failed');
    expect(res.json.error.message).toMatch(/rejected the credential of provider 'plan' with 401/);
    expect(res.json.error.message).not.toContain(BAD);
    expect((await t.call('GET', '/v1/inference/routes/inference.local')).status).toBe(404);
  });

  it('maps upstream 5xx and an unreachable upstream to 502', async () => {
    await plan('plan', GOOD);
    fake.force({ kind: 'error', status: 500 });
    const fiveHundred = await t.call('PUT', '/v1/inference/routes/inference.local', { body: { provider: 'plan', model: 'claude-haiku-4-5' } });
    expect(fiveHundred.status).toBe(502);
    expect(fiveHundred.json.error.code).toBe('upstream_unreachable');
    await t.call('POST', '/v1/providers', {
      body: { name: 'down', type: 'anthropic-oauth', credentials: { ANTHROPIC_OAUTH_TOKEN: GOOD }, config: { ANTHROPIC_OAUTH_BASE_URL: 'http://127.0.0.1:1/v1' } },
    });
    const down = await t.call('PUT', '/v1/inference/routes/inference.local', { body: { provider: 'down' } });
    expect(down.status).toBe(502);
    expect(down.json.error.message).toMatch(/verify: false/);
  });

  it('skips the probe with verify: false', async () => {
    await plan('plan', BAD);
    const res = await t.call('PUT', '/v1/inference/routes/inference.local', { body: { provider: 'plan', verify: false, timeoutSeconds: 30 } });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ timeoutSeconds: 30, verification: { performed: false } });
    expect(fake.requests).toHaveLength(0);
  });

  it('uses x-api-key for the anthropic type', async () => {
    const apiFake = await createFakeAnthropic({ auth: 'apiKey', apiKeys: ['sk-ant-api03-route-key-777'] });
    try {
      await t.call('POST', '/v1/providers', {
        body: { name: 'api', type: 'anthropic', credentials: { ANTHROPIC_API_KEY: 'sk-ant-api03-route-key-777' }, config: { ANTHROPIC_BASE_URL: `${apiFake.url}/v1` } },
      });
      const res = await t.call('PUT', '/v1/inference/routes/inference.local', { body: { provider: 'api', model: 'claude-sonnet-4-6' } });
      expect(res.status).toBe(200);
      expect(headerValue(apiFake.requests[0]!, 'x-api-key')).toBe('sk-ant-api03-route-key-777');
      expect(headerValue(apiFake.requests[0]!, 'authorization')).toBeUndefined();
    } finally {
      await apiFake.close();
    }
  });
});

describe('PUT /v1/inference/routes/:route refusals', () => {
  it('refuses an unknown provider (400)', async () => {
    const res = await t.call('PUT', '/v1/inference/routes/inference.local', { body: { provider: 'ghost' } });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: 'unknown_provider', field: 'body.provider' });
  });

  it.each([
    ['no credential', { name: 'p', type: 'anthropic-oauth' }, /no usable credential: it needs ANTHROPIC_OAUTH_TOKEN/],
    [
      'an expired credential',
      { name: 'p', type: 'anthropic-oauth', credentials: { ANTHROPIC_OAUTH_TOKEN: GOOD }, credentialExpiresAt: { ANTHROPIC_OAUTH_TOKEN: Date.now() - 1000 } },
      /expired at/,
    ],
    ['a non-inference type', { name: 'p', type: 'github', credentials: { GITHUB_TOKEN: 'ghp_route_token_1234' } }, /no inference profile/],
    ['no Vertex project or region', { name: 'p', type: 'google-vertex-ai', credentials: { GOOGLE_VERTEX_AI_TOKEN: 'ya29.route-token-1234' } }, /VERTEX_AI_PROJECT_ID and VERTEX_AI_REGION/],
    ['an empty base URL', { name: 'p', type: 'aws-bedrock' }, /empty base URL; set the config key BEDROCK_BASE_URL/],
  ])('refuses a provider with %s (route_unusable), even with verify: false', async (_case, provider, message) => {
    expect((await t.call('POST', '/v1/providers', { body: provider })).status).toBe(201);
    const res = await t.call('PUT', '/v1/inference/routes/inference.local', { body: { provider: 'p', verify: false } });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('route_unusable');
    expect(res.json.error.message).toMatch(message);
  });

  it('names the refresh problem when an expired credential cannot be refreshed', async () => {
    await t.call('POST', '/v1/providers', {
      body: { name: 'p', type: 'anthropic-oauth', credentials: { ANTHROPIC_OAUTH_TOKEN: GOOD }, credentialExpiresAt: { ANTHROPIC_OAUTH_TOKEN: Date.now() - 1000 } },
    });
    const store = t.gw.store;
    await store.putRefreshConfig({ provider: 'p', key: 'ANTHROPIC_OAUTH_TOKEN', strategy: 'oauth2_refresh_token', material: { refresh_token: 'sk-ant-ort01-expired-route-0001' } });
    const begun = await store.beginRefresh('p', 'ANTHROPIC_OAUTH_TOKEN', 'test-owner', 60_000);
    expect(begun.outcome).toBe('acquired');
    await store.failRefresh('p', 'ANTHROPIC_OAUTH_TOKEN', {
      owner: 'test-owner',
      expectedConfigVersion: begun.state.configVersion,
      status: 'reauth_required',
      lastError: 'invalid_grant: run openshell provider update p --from-claude-login',
      consecutiveFailures: 1,
    });
    const res = await t.call('PUT', '/v1/inference/routes/inference.local', { body: { provider: 'p', verify: false } });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(/its refresh needs attention: invalid_grant: run openshell provider update p --from-claude-login/);
  });

  it('validates the body', async () => {
    await plan('plan', GOOD);
    for (const body of [{}, { provider: 'plan', timeoutSeconds: 0 }, { provider: 'plan', model: '' }, { provider: 'plan', verify: 'no' }, { provider: 'plan', x: 1 }]) {
      const res = await t.call('PUT', '/v1/inference/routes/inference.local', { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error.code).toBe('invalid_request');
    }
  });
});

describe('GET/DELETE /v1/inference/routes', () => {
  it('lists, gets, updates with CAS and deletes routes', async () => {
    await plan('plan', GOOD);
    await t.call('PUT', '/v1/inference/routes/inference.local', { body: { provider: 'plan', verify: false } });
    await t.call('PUT', '/v1/inference/routes/backup', { body: { provider: 'plan', verify: false, model: 'claude-haiku-4-5' } });
    const list = await t.call('GET', '/v1/inference/routes');
    expect(list.json.routes.map((r: { name: string }) => r.name).sort()).toEqual(['backup', 'inference.local']);
    const got = await t.call('GET', '/v1/inference/routes/backup');
    expect(got.json).toMatchObject({ provider: 'plan', model: 'claude-haiku-4-5', resourceVersion: 1 });
    const cas = await t.call('PUT', '/v1/inference/routes/backup', { body: { provider: 'plan', verify: false, resourceVersion: 1, model: 'claude-opus-4-1' } });
    expect(cas.json.resourceVersion).toBe(2);
    const stale = await t.call('PUT', '/v1/inference/routes/backup', { body: { provider: 'plan', verify: false, resourceVersion: 1 } });
    expect(stale.status).toBe(409);
    expect(stale.json.error.code).toBe('resource_version_conflict');
    expect((await t.call('DELETE', '/v1/inference/routes/backup')).json).toEqual({ deleted: true, name: 'backup' });
    const gone = await t.call('GET', '/v1/inference/routes/backup');
    expect(gone.status).toBe(404);
    expect(gone.json.error.code).toBe('route_not_found');
    expect((await t.call('DELETE', '/v1/inference/routes/backup')).status).toBe(404);
  });
});
