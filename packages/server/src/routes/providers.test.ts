import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fingerprintSecret } from '../crypto/index.js';
import { startTestGateway, type TestGateway } from '../testing-fixtures/gateway-fixture.js';

const OAUTH = 'sk-ant-oat01-providers-test-0123456789abcdef';
const APIKEY = 'sk-ant-api03-providers-test-0123456789abcdef';

let t: TestGateway;
beforeEach(async () => {
  t = await startTestGateway();
});
afterEach(async () => {
  await t.close();
});

async function createPlan(name = 'plan') {
  return t.call('POST', '/v1/providers', { body: { name, type: 'claude-plan', credentials: { ANTHROPIC_OAUTH_TOKEN: OAUTH } } });
}

describe('POST /v1/providers', () => {
  it('normalizes an alias, redacts the credential and shows its fingerprint', async () => {
    const res = await createPlan();
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({
      name: 'plan',
      type: 'anthropic-oauth',
      credentials: { ANTHROPIC_OAUTH_TOKEN: 'REDACTED' },
      fingerprints: { ANTHROPIC_OAUTH_TOKEN: fingerprintSecret(OAUTH) },
      resourceVersion: 1,
    });
    expect(res.text).not.toContain(OAUTH);
  });

  it('normalizes case and whitespace of the type', async () => {
    const res = await t.call('POST', '/v1/providers', { body: { name: 'a', type: '  Anthropic ', credentials: { ANTHROPIC_API_KEY: APIKEY } } });
    expect(res.status).toBe(201);
    expect(res.json.type).toBe('anthropic');
  });

  it('stores credential expiry and config', async () => {
    const expiresAt = Date.now() + 3_600_000;
    const res = await t.call('POST', '/v1/providers', {
      body: {
        name: 'plan',
        type: 'anthropic-oauth',
        credentials: { ANTHROPIC_OAUTH_TOKEN: OAUTH },
        credentialExpiresAt: { ANTHROPIC_OAUTH_TOKEN: expiresAt },
        config: { ANTHROPIC_BASE_URL: 'http://127.0.0.1:9/v1' },
      },
    });
    expect(res.status).toBe(201);
    expect(res.json.credentialExpiresAt).toEqual({ ANTHROPIC_OAUTH_TOKEN: expiresAt });
    expect(res.json.config).toEqual({ ANTHROPIC_BASE_URL: 'http://127.0.0.1:9/v1' });
  });

  it('accepts a required refreshable credential left out (the gateway mints it)', async () => {
    const res = await t.call('POST', '/v1/providers', { body: { name: 'later', type: 'anthropic-oauth' } });
    expect(res.status).toBe(201);
    expect(res.json.credentials).toEqual({});
  });

  it.each([
    ['unknown type', { name: 'x', type: 'nope', credentials: {} }, 'unsupported_provider_type', /unsupported provider type 'nope'/],
    ['unknown key', { name: 'x', type: 'anthropic', credentials: { ANTHROPIC_API_KEY: APIKEY, OTHER_KEY: 'value-value' } }, 'invalid_credentials', /OTHER_KEY: unknown key/],
    ['missing required key', { name: 'x', type: 'anthropic', credentials: {} }, 'invalid_credentials', /missing required ANTHROPIC_API_KEY/],
    ['empty value', { name: 'x', type: 'anthropic', credentials: { ANTHROPIC_API_KEY: '  ' } }, 'invalid_credentials', /ANTHROPIC_API_KEY: empty value/],
    ['bad name', { name: '-x', type: 'anthropic', credentials: { ANTHROPIC_API_KEY: APIKEY } }, 'invalid_request', /body\.name/],
    ['missing type', { name: 'x' }, 'invalid_request', /body\.type/],
    ['unknown field', { name: 'x', type: 'anthropic', credentials: { ANTHROPIC_API_KEY: APIKEY }, extra: 1 }, 'invalid_request', /extra/],
    ['expiry without credential', { name: 'x', type: 'anthropic', credentials: { ANTHROPIC_API_KEY: APIKEY }, credentialExpiresAt: { OTHER: 5 } }, 'invalid_request', /credentialExpiresAt\.OTHER/],
  ])('refuses %s with 400', async (_case, body, code, message) => {
    const res = await t.call('POST', '/v1/providers', { body });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe(code);
    expect(res.json.error.message).toMatch(message);
    expect((await t.call('GET', '/v1/providers')).json.providers).toEqual([]);
  });

  it('lists every credential problem at once', async () => {
    const res = await t.call('POST', '/v1/providers', { body: { name: 'x', type: 'anthropic', credentials: { WRONG_ONE: 'v1-value', WRONG_TWO: 'v2-value' } } });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toContain('WRONG_ONE');
    expect(res.json.error.message).toContain('WRONG_TWO');
    expect(res.json.error.message).toContain('missing required ANTHROPIC_API_KEY');
  });

  it('refuses malformed JSON and a non-JSON body', async () => {
    const bad = await t.gw.app.inject({
      method: 'POST',
      url: '/v1/providers',
      headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/json' },
      payload: '{"name":',
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('invalid_json');
    const text = await t.gw.app.inject({
      method: 'POST',
      url: '/v1/providers',
      headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'text/plain' },
      payload: 'hello',
    });
    expect(text.statusCode).toBe(415);
    expect(text.json().error.code).toBe('unsupported_media_type');
  });

  it('refuses a duplicate name with 409', async () => {
    await createPlan();
    const res = await createPlan();
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe('provider_exists');
  });
});

describe('GET /v1/providers', () => {
  it('lists and gets providers, redacted', async () => {
    await createPlan('a');
    await createPlan('b');
    const list = await t.call('GET', '/v1/providers');
    expect(list.json.providers.map((p: { name: string }) => p.name).sort()).toEqual(['a', 'b']);
    expect(list.text).not.toContain(OAUTH);
    const one = await t.call('GET', '/v1/providers/a');
    expect(one.json.credentials).toEqual({ ANTHROPIC_OAUTH_TOKEN: 'REDACTED' });
    const missing = await t.call('GET', '/v1/providers/zzz');
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe('provider_not_found');
  });
});

describe('PATCH /v1/providers/:name', () => {
  it('merges credentials and config, an empty value deletes a key, a new value drops the old expiry', async () => {
    await t.call('POST', '/v1/providers', {
      body: {
        name: 'oa',
        type: 'openai',
        credentials: { OPENAI_API_KEY: 'sk-openai-first-value-123' },
        credentialExpiresAt: { OPENAI_API_KEY: Date.now() + 60_000 },
        config: { OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' },
      },
    });
    const res = await t.call('PATCH', '/v1/providers/oa', {
      body: { resourceVersion: 1, credentials: { OPENAI_API_KEY: 'sk-openai-second-value-456' }, config: { OPENAI_BASE_URL: '' } },
    });
    expect(res.status).toBe(200);
    expect(res.json.resourceVersion).toBe(2);
    expect(res.json.fingerprints.OPENAI_API_KEY).toBe(fingerprintSecret('sk-openai-second-value-456'));
    expect(res.json.config).toEqual({});
    expect(res.json.credentialExpiresAt).toEqual({});
    const stored = await t.gw.store.getProvider('oa');
    expect(stored?.credentials.OPENAI_API_KEY).toBe('sk-openai-second-value-456');
  });

  it('sets and clears an expiry', async () => {
    await createPlan();
    const at = Date.now() + 120_000;
    const set = await t.call('PATCH', '/v1/providers/plan', { body: { resourceVersion: 1, credentialExpiresAt: { ANTHROPIC_OAUTH_TOKEN: at } } });
    expect(set.json.credentialExpiresAt).toEqual({ ANTHROPIC_OAUTH_TOKEN: at });
    const cleared = await t.call('PATCH', '/v1/providers/plan', { body: { resourceVersion: 2, credentialExpiresAt: { ANTHROPIC_OAUTH_TOKEN: 0 } } });
    expect(cleared.json.credentialExpiresAt).toEqual({});
  });

  it('refuses a stale resourceVersion with 409 and changes nothing', async () => {
    await createPlan();
    await t.call('PATCH', '/v1/providers/plan', { body: { resourceVersion: 1, config: { ANTHROPIC_BASE_URL: 'http://127.0.0.1:9' } } });
    const res = await t.call('PATCH', '/v1/providers/plan', { body: { resourceVersion: 1, credentials: { ANTHROPIC_OAUTH_TOKEN: 'sk-ant-oat01-other-value-xyz' } } });
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe('resource_version_conflict');
    expect(res.json.error.message).toMatch(/re-read/);
    expect((await t.gw.store.getProvider('plan'))?.credentials.ANTHROPIC_OAUTH_TOKEN).toBe(OAUTH);
  });

  it('lets exactly one of two concurrent updates with the same resourceVersion win', async () => {
    await createPlan();
    const results = await Promise.all(
      ['sk-ant-oat01-concurrent-a-000001', 'sk-ant-oat01-concurrent-b-000002'].map((v) =>
        t.call('PATCH', '/v1/providers/plan', { body: { resourceVersion: 1, credentials: { ANTHROPIC_OAUTH_TOKEN: v } } }),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    const winner = results.find((r) => r.status === 200);
    const stored = await t.gw.store.getProvider('plan');
    expect(stored?.resourceVersion).toBe(2);
    expect(fingerprintSecret(stored?.credentials.ANTHROPIC_OAUTH_TOKEN ?? '')).toBe(winner?.json.fingerprints.ANTHROPIC_OAUTH_TOKEN);
  });

  it('needs resourceVersion, refuses a type change, a required key deletion and unknown providers', async () => {
    await t.call('POST', '/v1/providers', { body: { name: 'a', type: 'anthropic', credentials: { ANTHROPIC_API_KEY: APIKEY } } });
    const noVersion = await t.call('PATCH', '/v1/providers/a', { body: { config: {} } });
    expect(noVersion.status).toBe(400);
    expect(noVersion.json.error.message).toMatch(/body\.resourceVersion/);
    const typeChange = await t.call('PATCH', '/v1/providers/a', { body: { resourceVersion: 1, type: 'openai' } });
    expect(typeChange.status).toBe(400);
    expect(typeChange.json.error.code).toBe('provider_type_immutable');
    const sameTypeAlias = await t.call('PATCH', '/v1/providers/a', { body: { resourceVersion: 1, type: 'ANTHROPIC' } });
    expect(sameTypeAlias.status).toBe(200);
    const deleteRequired = await t.call('PATCH', '/v1/providers/a', { body: { resourceVersion: 2, credentials: { ANTHROPIC_API_KEY: '' } } });
    expect(deleteRequired.status).toBe(400);
    expect(deleteRequired.json.error.code).toBe('invalid_credentials');
    const unknownKey = await t.call('PATCH', '/v1/providers/a', { body: { resourceVersion: 2, credentials: { NOPE_KEY: 'value-value' } } });
    expect(unknownKey.json.error.code).toBe('invalid_credentials');
    const missing = await t.call('PATCH', '/v1/providers/zz', { body: { resourceVersion: 1 } });
    expect(missing.status).toBe(404);
  });
});

describe('DELETE /v1/providers/:name', () => {
  it('deletes an unused provider', async () => {
    await createPlan();
    const res = await t.call('DELETE', '/v1/providers/plan');
    expect(res.json).toEqual({ deleted: true, name: 'plan', deletedRoutes: [], unboundSandboxes: [] });
    expect((await t.call('GET', '/v1/providers/plan')).status).toBe(404);
    expect((await t.call('DELETE', '/v1/providers/plan')).status).toBe(404);
  });

  it('refuses (409) while a route or sandbox uses it, unless force', async () => {
    await createPlan();
    await t.call('PUT', '/v1/inference/routes/inference.local', { body: { provider: 'plan', verify: false } });
    await t.call('POST', '/v1/sandboxes', { body: { name: 'dev', providers: ['plan'] } });
    const refused = await t.call('DELETE', '/v1/providers/plan');
    expect(refused.status).toBe(409);
    expect(refused.json.error.code).toBe('provider_in_use');
    expect(refused.json.error.message).toContain('inference.local');
    expect(refused.json.error.message).toContain('dev');
    expect((await t.call('GET', '/v1/providers/plan')).status).toBe(200);
    const forced = await t.call('DELETE', '/v1/providers/plan?force=true');
    expect(forced.status).toBe(200);
    expect(forced.json.deletedRoutes).toEqual(['inference.local']);
    expect(forced.json.unboundSandboxes).toEqual(['dev']);
    expect((await t.call('GET', '/v1/sandboxes/dev')).json.providers).toEqual([]);
    expect((await t.call('GET', '/v1/inference/routes/inference.local')).status).toBe(404);
  });

  it('validates the force flag', async () => {
    await createPlan();
    const res = await t.call('DELETE', '/v1/providers/plan?force=maybe');
    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(/query\.force/);
  });
});
