// Property-based fuzzing (fast-check) of every gateway API payload (DESIGN §9 invariant 5): whatever
// the body, query or path parameter, the gateway never answers 5xx, a refusal is a stable
// `{ error: { code, message } }` whose message (or `field`) names what is wrong, and a refused
// request changes nothing in the store (snapshot before/after). Valid-looking payloads with ONE
// hostile field check that the message names that field.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createFakeAnthropic, type FakeAnthropic } from '@openshell/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway, type TestJson } from './testing-fixtures/gateway-fixture.js';

const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');
let t: TestGateway;
let api: FakeAnthropic;
let sandboxToken: string;
let runs = 0;
const NUM_RUNS = Number(process.env.OPENSHELL_FUZZ_RUNS ?? 40);

/** Everything the store holds that an API call could change. */
async function snapshot(): Promise<string> {
  const s = t.gw.store;
  const sandboxes = await s.listSandboxes();
  const tokens = await Promise.all(sandboxes.map((sb) => s.listSandboxTokens(sb.name)));
  return JSON.stringify({
    providers: await s.listProviders(),
    routes: await s.listRoutes(),
    sandboxes,
    tokens,
    refresh: await s.listRefreshStates(),
  });
}

/** Hostile JSON values: wrong types, huge and odd strings, prototype keys, deep nesting, odd numbers. */
const hostile: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({ maxDepth: 3, maxKeys: 5 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    null,
    '',
    ' ',
    -1,
    0,
    1.5,
    Number.MAX_SAFE_INTEGER + 2,
    1e308,
    true,
    [],
    {},
    'x'.repeat(9000),
    '../../etc/passwd',
    'a\r\nb',
    'a\u0000b',
    '\u202eevil',
    '__proto__',
    { __proto__: { polluted: true } },
    JSON.parse('{"__proto__":{"polluted":true}}'),
    { constructor: { prototype: { polluted: true } } },
    [[[[[[[[[[[]]]]]]]]]]],
  ),
);

/** A base payload with one field replaced by a hostile value (or removed). */
function mutate(base: Record<string, unknown>): fc.Arbitrary<{ field: string | undefined; body: Record<string, unknown> }> {
  return fc.tuple(fc.constantFrom(...Object.keys(base)), hostile, fc.boolean()).map(([field, value, remove]) => {
    const body: Record<string, unknown> = { ...base };
    if (remove) delete body[field];
    else body[field] = value;
    // A removed field may make ANOTHER one wrong (e.g. a state check): only a replaced one must be named.
    return { field: remove ? undefined : field, body };
  });
}

/** True when a JSON value holds a `__proto__` or `constructor` key anywhere (fastify's parser refuses those). */
function hasPoisonKey(value: unknown, depth = 0): boolean {
  if (depth > 12 || value === null || typeof value !== 'object') return false;
  for (const key of Object.getOwnPropertyNames(value)) {
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') return true;
    if (hasPoisonKey((value as Record<string, unknown>)[key], depth + 1)) return true;
  }
  return false;
}

interface Call {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  body?: unknown;
  raw?: { payload: string; contentType: string };
  token?: string;
}

async function send(c: Call): Promise<{ status: number; json: TestJson; text: string }> {
  if (c.raw !== undefined) {
    const res = await t.gw.app.inject({
      method: c.method,
      url: c.url,
      headers: { authorization: `Bearer ${c.token ?? t.adminToken}`, 'content-type': c.raw.contentType },
      payload: c.raw.payload,
    });
    let json: TestJson;
    try {
      json = res.json();
    } catch {
      json = undefined;
    }
    return { status: res.statusCode, json, text: res.body };
  }
  return t.call(c.method, c.url, { ...(c.body === undefined ? {} : { body: c.body }), ...(c.token === undefined ? {} : { token: c.token }) });
}

/** The property every call must satisfy; `field` (when given) must be named by a 400. */
async function check(c: Call, field?: string): Promise<void> {
  runs++;
  const before = await snapshot();
  const res = await send(c);
  const label = `${c.method} ${c.url} ${JSON.stringify(c.body ?? c.raw?.payload ?? null)?.slice(0, 300)} → ${res.status} ${res.text.slice(0, 300)}`;
  expect(res.status, label).toBeLessThan(500);
  expect(res.text, label).not.toContain('polluted');
  expect(({} as Record<string, unknown>).polluted, 'prototype pollution').toBeUndefined();
  if (res.status >= 400) {
    expect(typeof res.json?.error?.code, label).toBe('string');
    expect(res.json?.error?.message, label).toMatch(/\w{3,}/);
    expect(await snapshot(), `a refused request changed the store: ${label}`).toBe(before);
    if (res.json.error.code === 'invalid_json') {
      // Prototype-poisoning keys are refused by the JSON parser before validation, naming the key.
      expect(c.raw !== undefined || hasPoisonKey(c.body), `invalid_json for a JSON body: ${label}`).toBe(true);
      if (c.raw === undefined) expect(res.json.error.message, label).toMatch(/__proto__|constructor|prototype/);
    } else if (res.status === 400) {
      // Every validation refusal names a field.
      expect(`${res.json.error.field ?? ''} ${res.json.error.message}`, label).toMatch(/body|query|param|\w+:/);
    }
    if (field !== undefined && res.status === 400 && res.json.error.code !== 'invalid_json') {
      const named = `${res.json.error.message} ${res.json.error.field ?? ''}`;
      expect(named, `the error does not name '${field}': ${label}`).toContain(field);
    }
  }
}

let seq = 0;
const fresh = (p: string) => `${p}-${++seq}`;

beforeAll(async () => {
  api = await createFakeAnthropic({ auth: 'apiKey', apiKeys: ['sk-ant-api03-fuzz-key'] });
  // Token URLs on a dead loopback port: a fuzzed refresh configuration may be due at once, and must never reach a real endpoint.
  const profiles = await mkdtemp(join(tmpdir(), 'osh-fuzz-profiles-'));
  const builtin = await readFile(join(REPO, 'providers', 'anthropic-oauth.yaml'), 'utf8');
  await writeFile(join(profiles, 'anthropic-oauth.yaml'), builtin.replace(/token_urls:\n(?:\s+- .*\n)+/, 'token_urls:\n        - http://127.0.0.1:9/v1/oauth/token\n'));
  t = await startTestGateway({ refresh: true, profilesDir: profiles });
  const ok = async (r: Promise<{ status: number; json: TestJson }>, status: number) => {
    const x = await r;
    expect(x.status, JSON.stringify(x.json)).toBe(status);
    return x.json;
  };
  await ok(t.call('POST', '/v1/providers', { body: { name: 'base', type: 'anthropic', credentials: { ANTHROPIC_API_KEY: 'sk-ant-api03-fuzz-key' }, config: { ANTHROPIC_BASE_URL: `${api.url}/v1` } } }), 201);
  await ok(t.call('POST', '/v1/providers', { body: { name: 'oauth', type: 'anthropic-oauth', credentials: { ANTHROPIC_OAUTH_TOKEN: 'sk-ant-oat01-fuzz' }, config: { ANTHROPIC_OAUTH_BASE_URL: `${api.url}/v1` } } }), 201);
  await ok(t.call('PUT', '/v1/inference/routes/inference.local', { body: { provider: 'base', verify: false } }), 200);
  sandboxToken = (await ok(t.call('POST', '/v1/sandboxes', { body: { name: 'base-sb', providers: ['base'] } }), 201)).token;
});

afterAll(async () => {
  await t?.close();
  await api?.close();
  console.log(`[hostile] gateway fuzz: ${runs} hostile API calls`);
});

const opts = () => ({ numRuns: NUM_RUNS, seed: Number(process.env.OPENSHELL_FUZZ_SEED ?? Date.now() % 1_000_000) });

describe('fuzzing every API payload: never 5xx, field named, nothing half-written', () => {
  it('POST /v1/providers', async () => {
    await fc.assert(
      fc.asyncProperty(mutate({ name: 'p', type: 'anthropic', credentials: { ANTHROPIC_API_KEY: 'k' }, config: {}, credentialExpiresAt: {} }), async ({ field, body }) => {
        if (body.name === 'p') body.name = fresh('p');
        await check({ method: 'POST', url: '/v1/providers', body }, field);
      }),
      opts(),
    );
  });

  it('PATCH /v1/providers/:name', async () => {
    await fc.assert(
      fc.asyncProperty(mutate({ resourceVersion: 1, credentials: {}, config: {}, credentialExpiresAt: {} }), async ({ field, body }) => {
        if (body.resourceVersion === 1) body.resourceVersion = (await t.gw.store.getProvider('base'))?.resourceVersion;
        await check({ method: 'PATCH', url: '/v1/providers/base', body }, field);
      }),
      opts(),
    );
  });

  it('credential and config maps: hostile keys and values', async () => {
    const map = fc.dictionary(fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'A B', '1X', 'X\u0000')), hostile, { maxKeys: 4 });
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('credentials', 'config', 'credentialExpiresAt'), map, async (field, value) => {
        const base = { name: fresh('m'), type: 'anthropic', credentials: { ANTHROPIC_API_KEY: 'k' } };
        await check({ method: 'POST', url: '/v1/providers', body: { ...base, [field]: value } }, field);
      }),
      opts(),
    );
  });

  it('PUT /v1/inference/routes/:route', async () => {
    await fc.assert(
      fc.asyncProperty(mutate({ provider: 'base', model: 'claude-haiku-4-5', timeoutSeconds: 30, verify: false }), async ({ field, body }) => {
        if (body.verify !== false) body.verify = false; // never probe from the fuzzer unless asked below
        await check({ method: 'PUT', url: `/v1/inference/routes/${fresh('r')}`, body }, field);
      }),
      opts(),
    );
  });

  it('POST /v1/sandboxes', async () => {
    await fc.assert(
      fc.asyncProperty(mutate({ name: 'sb', providers: ['base'] }), async ({ field, body }) => {
        if (body.name === 'sb') body.name = fresh('sb');
        await check({ method: 'POST', url: '/v1/sandboxes', body }, field);
      }),
      opts(),
    );
  });

  it('PATCH /v1/sandboxes/:name', async () => {
    await fc.assert(
      fc.asyncProperty(mutate({ resourceVersion: 1, providers: ['base'] }), async ({ field, body }) => {
        if (body.resourceVersion === 1) body.resourceVersion = (await t.gw.store.getSandbox('base-sb'))?.resourceVersion;
        await check({ method: 'PATCH', url: '/v1/sandboxes/base-sb', body }, field);
      }),
      opts(),
    );
  });

  it('POST /v1/sandboxes/:name/tokens', async () => {
    await fc.assert(
      fc.asyncProperty(mutate({ ttlSeconds: 60 }), async ({ field, body }) => {
        await check({ method: 'POST', url: '/v1/sandboxes/base-sb/tokens', body }, field);
      }),
      opts(),
    );
  });

  it('PUT /v1/providers/:name/refresh and POST .../rotate', async () => {
    await fc.assert(
      fc.asyncProperty(
        mutate({ credentialKey: 'ANTHROPIC_OAUTH_TOKEN', material: { refresh_token: 'sk-ant-ort01-fuzz' }, expiresAt: Date.now() + 3_600_000 }),
        fc.dictionary(fc.constantFrom('refresh_token', 'client_id', 'client_secret', 'token_url', 'scope', 'user_agent', 'x'), hostile, { maxKeys: 3 }),
        async ({ field, body }, material) => {
          await check({ method: 'PUT', url: '/v1/providers/oauth/refresh', body }, field);
          await check({ method: 'PUT', url: '/v1/providers/oauth/refresh', body: { material } }, 'material');
        },
      ),
      opts(),
    );
    await fc.assert(
      fc.asyncProperty(hostile, async (credentialKey) => {
        // Only refusals are interesting here: a valid key would try the (absent) token endpoint.
        if (credentialKey === undefined || typeof credentialKey === 'string') return;
        await check({ method: 'POST', url: '/v1/providers/oauth/refresh/rotate', body: { credentialKey } }, 'credentialKey');
      }),
      opts(),
    );
  });

  it('POST /v1/providers/:name/verify', async () => {
    await fc.assert(
      fc.asyncProperty(mutate({ model: 'claude-haiku-4-5', route: 'inference.local' }), async ({ field, body }) => {
        await check({ method: 'POST', url: '/v1/providers/base/verify', body }, field);
      }),
      { ...opts(), numRuns: Math.min(NUM_RUNS, 20) },
    );
  });

  it('POST /v1/sandbox/routes/:route/credential-rejected (sandbox token)', async () => {
    await fc.assert(
      fc.asyncProperty(mutate({ fingerprint: '000000000000' }), async ({ field, body }) => {
        await check({ method: 'POST', url: '/v1/sandbox/routes/inference.local/credential-rejected', body, token: sandboxToken }, field);
      }),
      opts(),
    );
  });

  it('path parameters and query strings', async () => {
    const segment = fc.oneof(fc.string({ unit: 'binary', maxLength: 30 }), fc.constantFrom('..', '%2e%2e', '%00', 'a%2fb', 'x'.repeat(100), 'y'.repeat(300), 'z'.repeat(2000), '__proto__', 'constructor'));
    await fc.assert(
      fc.asyncProperty(segment, fc.constantFrom('providers', 'sandboxes', 'inference/routes', 'profiles'), fc.constantFrom<Call['method']>('GET', 'DELETE', 'PATCH'), async (name, kind, method) => {
        const url = `/v1/${kind}/${encodeURIComponent(name)}`;
        await check({ method, url, ...(method === 'PATCH' ? { body: { resourceVersion: 1 } } : {}) });
      }),
      opts(),
    );
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 20 }), async (q) => {
        await check({ method: 'DELETE', url: `/v1/providers/ghost?force=${encodeURIComponent(q)}` });
        // waitSeconds only with values that cannot make the call wait.
        await check({ method: 'GET', url: `/v1/sandbox/bundle?waitSeconds=${encodeURIComponent(`-${q}`)}&revision=${encodeURIComponent(q)}`, token: sandboxToken });
      }),
      opts(),
    );
  });

  it('bodies that are not JSON objects', async () => {
    const raw = fc.oneof(
      fc.constantFrom('', 'null', '[]', '"x"', '1', '{', '{"name":', '{"a":1}{"b":2}', '\u0000', '{"__proto__":{"polluted":true},"name":"x"}', `${'['.repeat(5000)}${']'.repeat(5000)}`),
      fc.string({ unit: 'binary', maxLength: 60 }),
    );
    const routes: Call[] = [
      { method: 'POST', url: '/v1/providers' },
      { method: 'PATCH', url: '/v1/providers/base' },
      { method: 'PUT', url: '/v1/inference/routes/inference.local' },
      { method: 'POST', url: '/v1/sandboxes' },
      { method: 'PATCH', url: '/v1/sandboxes/base-sb' },
      { method: 'POST', url: '/v1/sandboxes/base-sb/tokens' },
      { method: 'PUT', url: '/v1/providers/oauth/refresh' },
      { method: 'POST', url: '/v1/providers/base/verify' },
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), raw, fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded'), async (route, payload, contentType) => {
        await check({ ...route, raw: { payload, contentType } });
      }),
      opts(),
    );
  });
});
