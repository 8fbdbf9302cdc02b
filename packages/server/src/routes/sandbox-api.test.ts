import { parseRouteBundle } from '@openshell/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fingerprintSecret } from '../crypto/index.js';
import { startTestGateway, type TestGateway } from '../testing-fixtures/gateway-fixture.js';
import { affectsSandbox } from './sandbox-api.js';

const OAUTH = 'sk-ant-oat01-bundle-test-token-abcdef';
const OAUTH2 = 'sk-ant-oat01-bundle-test-token-rotated';
const GH = 'ghp_bundle_test_token_0042';

let t: TestGateway;
let token: string;
let expiresAt: number;
beforeEach(async () => {
  t = await startTestGateway();
  expiresAt = Date.now() + 8 * 3600_000;
  await t.call('POST', '/v1/providers', {
    body: {
      name: 'plan',
      type: 'claude-plan',
      credentials: { ANTHROPIC_OAUTH_TOKEN: OAUTH },
      credentialExpiresAt: { ANTHROPIC_OAUTH_TOKEN: expiresAt },
    },
  });
  await t.call('POST', '/v1/providers', { body: { name: 'gh', type: 'github', credentials: { GITHUB_TOKEN: GH } } });
  await t.call('POST', '/v1/providers', { body: { name: 'oa', type: 'openai', credentials: { OPENAI_API_KEY: 'sk-openai-not-bound-0001' } } });
  await t.call('PUT', '/v1/inference/routes/inference.local', { body: { provider: 'plan', model: 'claude-sonnet-4-6', timeoutSeconds: 90, verify: false } });
  await t.call('PUT', '/v1/inference/routes/openai', { body: { provider: 'oa', verify: false } });
  const sb = await t.call('POST', '/v1/sandboxes', { body: { name: 'dev', providers: ['plan', 'gh'] } });
  token = sb.json.token;
});
afterEach(async () => {
  await t.close();
});

async function bundle(query = '') {
  return t.call('GET', `/v1/sandbox/bundle${query}`, { token });
}

describe('GET /v1/sandbox/environment', () => {
  it('returns only injectable credentials, with a revision', async () => {
    const res = await t.call('GET', '/v1/sandbox/environment', { token });
    expect(res.status).toBe(200);
    expect(res.json.sandbox).toBe('dev');
    expect(res.json.environment).toEqual({ GITHUB_TOKEN: GH });
    expect(res.json.revision).toMatch(/^[0-9a-f]{32}$/);
    expect(res.text).not.toContain(OAUTH);
  });

  it('changes its revision when a bound injectable credential changes', async () => {
    const before = (await t.call('GET', '/v1/sandbox/environment', { token })).json.revision;
    await t.call('PATCH', '/v1/providers/gh', { body: { resourceVersion: 1, credentials: { GITHUB_TOKEN: 'ghp_bundle_test_token_0043' } } });
    const after = await t.call('GET', '/v1/sandbox/environment', { token });
    expect(after.json.revision).not.toBe(before);
    expect(after.json.environment.GITHUB_TOKEN).toBe('ghp_bundle_test_token_0043');
  });
});

describe('GET /v1/sandbox/bundle', () => {
  it('carries only bound routes, with the full header policy, credential facts, client env and egress', async () => {
    const res = await bundle();
    expect(res.status).toBe(200);
    const b = parseRouteBundle(res.json);
    expect(b.routes.map((r) => r.name)).toEqual(['inference.local']);
    const [route] = b.routes;
    expect(route).toMatchObject({
      providerName: 'plan',
      providerType: 'anthropic-oauth',
      baseUrl: 'https://api.anthropic.com/v1',
      model: 'claude-sonnet-4-6',
      timeouts: { connectMs: 10_000, firstByteMs: 90_000, idleMs: 300_000 },
      auth: { style: 'bearer', headerName: 'authorization', value: OAUTH },
      credential: { fingerprint: fingerprintSecret(OAUTH), expiresAt, refreshable: false },
    });
    expect(route?.headerPolicy.required).toEqual([{ name: 'anthropic-beta', value: 'oauth-2025-04-20', merge: 'list' }]);
    expect(route?.headerPolicy.defaults).toEqual({ 'anthropic-version': '2023-06-01' });
    expect(route?.headerPolicy.passthrough).toEqual(expect.arrayContaining(['anthropic-beta', 'x-stainless-*']));
    expect(route?.clientEnv.ANTHROPIC_BASE_URL).toBe('https://inference.local');
    expect(route?.clientEnv.CLAUDE_CODE_OAUTH_TOKEN).toBeDefined();
    expect(route?.clientEnv.CLAUDE_CODE_OAUTH_TOKEN).not.toBe(OAUTH);
    expect(b.egress).toEqual(
      expect.arrayContaining([
        { host: 'api.anthropic.com', port: 443 },
        { host: 'api.github.com', port: 443 },
      ]),
    );
    expect(b.egress.some((e) => e.host === 'api.openai.com')).toBe(false);
    expect(res.text).not.toContain('sk-openai-not-bound-0001');
  });

  it('marks a credential with refresh configured as refreshable', async () => {
    await t.gw.store.putRefreshConfig({ provider: 'plan', key: 'ANTHROPIC_OAUTH_TOKEN', strategy: 'oauth2_refresh_token', material: { refresh_token: 'sk-ant-ort01-bundle-refresh-0001' } });
    const b = parseRouteBundle((await bundle()).json);
    expect(b.routes[0]?.credential.refreshable).toBe(true);
  });

  it('leaves out a route whose credential expired (and logs why), keeping the others', async () => {
    await t.call('PATCH', '/v1/providers/plan', { body: { resourceVersion: 1, credentialExpiresAt: { ANTHROPIC_OAUTH_TOKEN: Date.now() - 1 } } });
    await t.call('POST', '/v1/providers', { body: { name: 'oa2', type: 'openai', credentials: { OPENAI_API_KEY: 'sk-openai-bound-0002' } } });
    await t.call('PUT', '/v1/inference/routes/openai', { body: { provider: 'oa2', verify: false } });
    await t.call('PATCH', '/v1/sandboxes/dev', { body: { resourceVersion: 1, bind: ['oa2'] } });
    const b = parseRouteBundle((await bundle()).json);
    expect(b.routes.map((r) => r.name)).toEqual(['openai']);
    const line = t.logs.lines().find((l) => l.includes('route left out of the bundle'));
    expect(line).toContain('expired');
    expect(line).not.toContain(OAUTH);
  });

  it('changes its revision on a credential rotation, a route change and a binding change', async () => {
    const r0 = (await bundle()).json.revision;
    await t.call('PATCH', '/v1/providers/plan', { body: { resourceVersion: 1, credentials: { ANTHROPIC_OAUTH_TOKEN: OAUTH2 } } });
    const r1 = (await bundle()).json.revision;
    expect(r1).not.toBe(r0);
    await t.call('PUT', '/v1/inference/routes/inference.local', { body: { provider: 'plan', model: 'claude-haiku-4-5', verify: false } });
    const r2 = (await bundle()).json.revision;
    expect(r2).not.toBe(r1);
    await t.call('PATCH', '/v1/sandboxes/dev', { body: { resourceVersion: 1, unbind: ['gh'] } });
    const r3 = (await bundle()).json.revision;
    expect(r3).not.toBe(r2);
    expect((await bundle()).json.revision).toBe(r3);
  });

  it('returns at once when the revision differs, and after the wait when nothing changed', async () => {
    const current = (await bundle()).json.revision;
    const differs = await bundle('?revision=stale&waitSeconds=30');
    expect(differs.json.revision).toBe(current);
    const same = await bundle(`?revision=${current}&waitSeconds=0.2`);
    expect(same.status).toBe(200);
    expect(same.json.revision).toBe(current);
  });

  it('a waiting long-poll is released by a provider update long before its 30 s wait expires', async () => {
    const current = (await bundle()).json.revision;
    let settled = false;
    const waiting = bundle(`?revision=${current}&waitSeconds=30`).then((r) => {
      settled = true;
      return r;
    });
    // Let the long-poll arm its latch; an unrelated change must not release it.
    await new Promise((r) => setTimeout(r, 100));
    await t.call('PATCH', '/v1/providers/oa', { body: { resourceVersion: 1, config: { OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' } } });
    await new Promise((r) => setTimeout(r, 100));
    expect(settled).toBe(false);
    await t.call('PATCH', '/v1/providers/plan', { body: { resourceVersion: 1, credentials: { ANTHROPIC_OAUTH_TOKEN: OAUTH2 } } });
    const deadline = new Promise<'deadline'>((r) => setTimeout(() => r('deadline'), 10_000));
    const first = await Promise.race([waiting, deadline]);
    expect(first).not.toBe('deadline');
    const released = await waiting;
    expect(released.json.revision).not.toBe(current);
    expect(parseRouteBundle(released.json).routes[0]?.auth.value).toBe(OAUTH2);
  });

  it('validates its query', async () => {
    for (const q of ['?waitSeconds=-1', '?waitSeconds=abc', '?sandbox=NOT_A_NAME']) {
      const res = await bundle(q);
      expect(res.status, q).toBe(400);
      expect(res.json.error.code).toBe('invalid_request');
    }
  });

  it('releases waiting long-polls when the gateway closes', async () => {
    const current = (await bundle()).json.revision;
    const waiting = bundle(`?revision=${current}&waitSeconds=30`);
    await new Promise((r) => setTimeout(r, 100));
    const closing = t.gw.close();
    const res = await waiting;
    await closing;
    expect(res.status).toBe(200);
    expect(res.json.revision).toBe(current);
  });
});

describe('affectsSandbox', () => {
  const bound = new Set(['plan']);
  it.each([
    [{ kind: 'sandbox', name: 'dev', op: 'update' }, true],
    [{ kind: 'sandbox', name: 'other', op: 'update' }, false],
    [{ kind: 'route', name: 'x', op: 'create' }, true],
    [{ kind: 'provider', name: 'plan', op: 'update' }, true],
    [{ kind: 'provider', name: 'gh', op: 'update' }, false],
    [{ kind: 'refresh', name: 'plan', op: 'update' }, true],
    [{ kind: 'admin', name: 'token', op: 'update' }, false],
    [{ kind: 'provider', name: '*', op: 'update' }, true],
  ] as const)('%j → %s', (change, expected) => {
    expect(affectsSandbox(change, 'dev', bound)).toBe(expected);
  });
});
