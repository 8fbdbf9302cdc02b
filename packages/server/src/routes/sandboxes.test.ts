import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../testing-fixtures/gateway-fixture.js';

let t: TestGateway;
beforeEach(async () => {
  t = await startTestGateway();
  for (const [name, token] of [
    ['gh1', 'ghp_first_token_value_0001'],
    ['gh2', 'ghp_second_token_value_0002'],
  ]) {
    const res = await t.call('POST', '/v1/providers', { body: { name, type: 'github', credentials: { GITHUB_TOKEN: token } } });
    expect(res.status).toBe(201);
  }
  await t.call('POST', '/v1/providers', { body: { name: 'plan', type: 'anthropic-oauth', credentials: { ANTHROPIC_OAUTH_TOKEN: 'sk-ant-oat01-sandboxes-test-000' } } });
});
afterEach(async () => {
  await t.close();
});

describe('POST /v1/sandboxes', () => {
  it('creates a sandbox with bound providers and returns a token once', async () => {
    const res = await t.call('POST', '/v1/sandboxes', { body: { name: 'dev', providers: ['plan', 'gh1', 'plan'] } });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ name: 'dev', providers: ['plan', 'gh1'], resourceVersion: 1 });
    expect(res.json.token).toMatch(/^oss_/);
    const got = await t.call('GET', '/v1/sandboxes/dev');
    expect(got.json.token).toBeUndefined();
    expect(got.text).not.toContain(res.json.token);
    expect(t.logs.text()).not.toContain(res.json.token);
  });

  it('refuses unknown providers naming them (400), duplicates (409), bad names (400)', async () => {
    const unknown = await t.call('POST', '/v1/sandboxes', { body: { name: 'dev', providers: ['plan', 'ghost', 'phantom'] } });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error.code).toBe('unknown_provider');
    expect(unknown.json.error.message).toContain("'ghost'");
    expect(unknown.json.error.message).toContain("'phantom'");
    expect((await t.call('GET', '/v1/sandboxes/dev')).status).toBe(404);
    await t.call('POST', '/v1/sandboxes', { body: { name: 'dev' } });
    const dup = await t.call('POST', '/v1/sandboxes', { body: { name: 'dev' } });
    expect(dup.status).toBe(409);
    expect(dup.json.error.code).toBe('sandbox_exists');
    const bad = await t.call('POST', '/v1/sandboxes', { body: { name: 'Dev_1' } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.field).toBe('body.name');
  });

  it('refuses two providers that set the same environment variable (409)', async () => {
    const res = await t.call('POST', '/v1/sandboxes', { body: { name: 'dev', providers: ['gh1', 'gh2'] } });
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe('environment_conflict');
    expect(res.json.error.message).toContain('GITHUB_TOKEN');
    expect(res.text).not.toContain('ghp_first_token_value_0001');
  });
});

describe('GET/PATCH/DELETE /v1/sandboxes/:name', () => {
  it('lists, binds, unbinds and replaces providers with compare-and-swap', async () => {
    await t.call('POST', '/v1/sandboxes', { body: { name: 'dev', providers: ['plan'] } });
    await t.call('POST', '/v1/sandboxes', { body: { name: 'ci' } });
    const list = await t.call('GET', '/v1/sandboxes');
    expect(list.json.sandboxes.map((s: { name: string }) => s.name).sort()).toEqual(['ci', 'dev']);
    const bound = await t.call('PATCH', '/v1/sandboxes/dev', { body: { resourceVersion: 1, bind: ['gh1'] } });
    expect(bound.json).toMatchObject({ providers: ['plan', 'gh1'], resourceVersion: 2 });
    const unbound = await t.call('PATCH', '/v1/sandboxes/dev', { body: { resourceVersion: 2, unbind: ['plan'] } });
    expect(unbound.json.providers).toEqual(['gh1']);
    const replaced = await t.call('PATCH', '/v1/sandboxes/dev', { body: { resourceVersion: 3, providers: ['gh2'] } });
    expect(replaced.json.providers).toEqual(['gh2']);
    const stale = await t.call('PATCH', '/v1/sandboxes/dev', { body: { resourceVersion: 3, providers: [] } });
    expect(stale.status).toBe(409);
    expect(stale.json.error.code).toBe('resource_version_conflict');
  });

  it('refuses unknown providers, unbinding what is not bound, mixing forms, conflicts and missing sandboxes', async () => {
    await t.call('POST', '/v1/sandboxes', { body: { name: 'dev', providers: ['gh1'] } });
    const unknown = await t.call('PATCH', '/v1/sandboxes/dev', { body: { resourceVersion: 1, bind: ['ghost'] } });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error.message).toContain("'ghost'");
    const notBound = await t.call('PATCH', '/v1/sandboxes/dev', { body: { resourceVersion: 1, unbind: ['plan'] } });
    expect(notBound.status).toBe(400);
    expect(notBound.json.error.field).toBe('body.unbind');
    const mixed = await t.call('PATCH', '/v1/sandboxes/dev', { body: { resourceVersion: 1, providers: [], bind: ['plan'] } });
    expect(mixed.status).toBe(400);
    const envConflict = await t.call('PATCH', '/v1/sandboxes/dev', { body: { resourceVersion: 1, bind: ['gh2'] } });
    expect(envConflict.status).toBe(409);
    expect(envConflict.json.error.code).toBe('environment_conflict');
    expect((await t.call('GET', '/v1/sandboxes/dev')).json.providers).toEqual(['gh1']);
    expect((await t.call('PATCH', '/v1/sandboxes/nope', { body: { resourceVersion: 1 } })).status).toBe(404);
    expect((await t.call('GET', '/v1/sandboxes/nope')).json.error.code).toBe('sandbox_not_found');
    expect((await t.call('DELETE', '/v1/sandboxes/nope')).status).toBe(404);
  });

  it('deletes a sandbox', async () => {
    await t.call('POST', '/v1/sandboxes', { body: { name: 'dev', providers: ['plan'] } });
    expect((await t.call('DELETE', '/v1/sandboxes/dev')).json).toEqual({ deleted: true, name: 'dev' });
    expect((await t.call('GET', '/v1/sandboxes/dev')).status).toBe(404);
    // The provider is no longer in use.
    expect((await t.call('DELETE', '/v1/providers/plan')).status).toBe(200);
  });
});

describe('POST /v1/sandboxes/:name/tokens', () => {
  it('issues long-lived and short-lived tokens that work on the sandbox endpoints', async () => {
    await t.call('POST', '/v1/sandboxes', { body: { name: 'dev' } });
    const plain = await t.call('POST', '/v1/sandboxes/dev/tokens');
    expect(plain.status).toBe(201);
    expect(plain.json.expiresAt).toBeUndefined();
    const short = await t.call('POST', '/v1/sandboxes/dev/tokens', { body: { ttlSeconds: 30 } });
    expect(short.json.expiresAt).toBeGreaterThan(Date.now());
    for (const token of [plain.json.token, short.json.token]) {
      expect((await t.call('GET', '/v1/sandbox/environment', { token })).json.sandbox).toBe('dev');
    }
    expect((await t.gw.store.listSandboxTokens('dev')).length).toBe(3);
  });

  it('validates the TTL and the sandbox', async () => {
    await t.call('POST', '/v1/sandboxes', { body: { name: 'dev' } });
    for (const ttlSeconds of [0, -5, 1.5, 'x', 31 * 24 * 3600]) {
      const res = await t.call('POST', '/v1/sandboxes/dev/tokens', { body: { ttlSeconds } });
      expect(res.status, String(ttlSeconds)).toBe(400);
      expect(res.json.error.field).toBe('body.ttlSeconds');
    }
    expect((await t.call('POST', '/v1/sandboxes/nope/tokens', { body: {} })).status).toBe(404);
  });
});
