// Authorization matrix (DESIGN §9 invariant 3): every gateway endpoint × {no token, garbage, admin,
// this sandbox, another sandbox, deleted sandbox}. Only admins read or change providers, routes and
// sandboxes; only a bound sandbox reads its bundle and reports its routes; a deleted sandbox's
// tokens die with it; nobody gets a credential it should not see.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway, type TestJson } from './testing-fixtures/gateway-fixture.js';

type Principal = 'none' | 'garbage' | 'admin' | 'this-sandbox' | 'other-sandbox' | 'deleted-sandbox';
const PRINCIPALS: readonly Principal[] = ['none', 'garbage', 'admin', 'this-sandbox', 'other-sandbox', 'deleted-sandbox'];
type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

interface Endpoint {
  readonly method: Method;
  readonly url: string;
  readonly kind: 'public' | 'admin' | 'sandbox';
  readonly body?: unknown;
}

const SECRET_A = 'sk-ant-oat01-matrix-secret-A-0123456789abcdef';
const SECRET_B = 'sk-ant-oat01-matrix-secret-B-0123456789abcdef';
/** Refresh material: never in ANY answer, not even the sandbox's own bundle. */
const REFRESH_A = 'sk-ant-ort01-matrix-refresh-A-0123456789abcdef';
const CLIENT_SECRET_A = 'matrix-client-secret-A-0123456789abcdef';

// Mutating admin endpoints address resources that do not exist (`ghost`), so an admin call changes nothing
// and every principal meets the same state; what is asserted is who gets past authentication.
const ENDPOINTS: readonly Endpoint[] = [
  { method: 'GET', url: '/healthz', kind: 'public' },
  { method: 'GET', url: '/readyz', kind: 'public' },
  { method: 'GET', url: '/metrics', kind: 'admin' },
  { method: 'GET', url: '/v1/gateway', kind: 'admin' },
  { method: 'GET', url: '/v1/profiles', kind: 'admin' },
  { method: 'GET', url: '/v1/profiles/anthropic-oauth', kind: 'admin' },
  { method: 'GET', url: '/v1/providers', kind: 'admin' },
  { method: 'POST', url: '/v1/providers', kind: 'admin', body: { name: 'bad name!', type: 'anthropic' } },
  { method: 'GET', url: '/v1/providers/plan-a', kind: 'admin' },
  { method: 'PATCH', url: '/v1/providers/ghost', kind: 'admin', body: { resourceVersion: 1, config: {} } },
  { method: 'DELETE', url: '/v1/providers/ghost', kind: 'admin' },
  { method: 'POST', url: '/v1/providers/ghost/verify', kind: 'admin', body: {} },
  { method: 'PUT', url: '/v1/providers/ghost/refresh', kind: 'admin', body: { material: { refresh_token: 'rt' } } },
  { method: 'GET', url: '/v1/providers/plan-a/refresh', kind: 'admin' },
  { method: 'DELETE', url: '/v1/providers/ghost/refresh', kind: 'admin' },
  { method: 'POST', url: '/v1/providers/ghost/refresh/rotate', kind: 'admin', body: {} },
  { method: 'GET', url: '/v1/inference/routes', kind: 'admin' },
  { method: 'GET', url: '/v1/inference/routes/inference.local', kind: 'admin' },
  { method: 'PUT', url: '/v1/inference/routes/ghost-route', kind: 'admin', body: { provider: 'ghost', verify: false } },
  { method: 'DELETE', url: '/v1/inference/routes/ghost-route', kind: 'admin' },
  { method: 'GET', url: '/v1/sandboxes', kind: 'admin' },
  { method: 'POST', url: '/v1/sandboxes', kind: 'admin', body: { name: 'Bad_Name' } },
  { method: 'GET', url: '/v1/sandboxes/sandbox-a', kind: 'admin' },
  { method: 'PATCH', url: '/v1/sandboxes/ghost', kind: 'admin', body: { resourceVersion: 1 } },
  { method: 'DELETE', url: '/v1/sandboxes/ghost', kind: 'admin' },
  { method: 'POST', url: '/v1/sandboxes/sandbox-a/tokens', kind: 'admin', body: { ttlSeconds: 60 } },
  { method: 'GET', url: '/v1/sandbox/environment', kind: 'sandbox' },
  { method: 'GET', url: '/v1/sandbox/environment?sandbox=sandbox-a', kind: 'sandbox' },
  { method: 'GET', url: '/v1/sandbox/bundle', kind: 'sandbox' },
  { method: 'GET', url: '/v1/sandbox/bundle?sandbox=sandbox-a', kind: 'sandbox' },
  { method: 'POST', url: '/v1/sandbox/routes/inference.local/credential-rejected', kind: 'sandbox', body: { fingerprint: '000000000000' } },
];

const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');
let t: TestGateway;
const tokens: Record<Principal, string | null> = {
  none: null,
  garbage: 'oss_garbage-not-a-token',
  admin: '',
  'this-sandbox': '',
  'other-sandbox': '',
  'deleted-sandbox': '',
};

async function ok(p: Promise<{ status: number; json: TestJson }>, status: number) {
  const r = await p;
  expect(r.status, JSON.stringify(r.json)).toBe(status);
  return r.json;
}

beforeAll(async () => {
  // Token URLs on a dead loopback port: nothing here may ever reach a real token endpoint.
  const profiles = await mkdtemp(join(tmpdir(), 'osh-matrix-profiles-'));
  const builtin = await readFile(join(REPO, 'providers', 'anthropic-oauth.yaml'), 'utf8');
  await writeFile(join(profiles, 'anthropic-oauth.yaml'), builtin.replace(/token_urls:\n(?:\s+- .*\n)+/, 'token_urls:\n        - http://127.0.0.1:9/v1/oauth/token\n'));
  t = await startTestGateway({ refresh: true, profilesDir: profiles });
  tokens.admin = t.adminToken;
  await ok(t.call('POST', '/v1/providers', { body: { name: 'plan-a', type: 'anthropic-oauth', credentials: { ANTHROPIC_OAUTH_TOKEN: SECRET_A } } }), 201);
  await ok(t.call('POST', '/v1/providers', { body: { name: 'key-b', type: 'anthropic', credentials: { ANTHROPIC_API_KEY: SECRET_B } } }), 201);
  await ok(t.call('PUT', '/v1/providers/plan-a/refresh', { body: { material: { refresh_token: REFRESH_A, client_secret: CLIENT_SECRET_A }, expiresAt: Date.now() + 3_600_000 } }), 200);
  await ok(t.call('PUT', '/v1/inference/routes/inference.local', { body: { provider: 'plan-a', verify: false } }), 200);
  await ok(t.call('PUT', '/v1/inference/routes/route-b', { body: { provider: 'key-b', verify: false } }), 200);
  tokens['this-sandbox'] = (await ok(t.call('POST', '/v1/sandboxes', { body: { name: 'sandbox-a', providers: ['plan-a'] } }), 201)).token;
  tokens['other-sandbox'] = (await ok(t.call('POST', '/v1/sandboxes', { body: { name: 'sandbox-b', providers: ['key-b'] } }), 201)).token;
  const created = await ok(t.call('POST', '/v1/sandboxes', { body: { name: 'sandbox-gone', providers: ['plan-a'] } }), 201);
  // A second, short-lived token issued before the deletion must die too.
  const extra = await ok(t.call('POST', '/v1/sandboxes/sandbox-gone/tokens', { body: { ttlSeconds: 3600 } }), 201);
  expect(extra.token).not.toBe(created.token);
  tokens['deleted-sandbox'] = created.token;
  await ok(t.call('DELETE', '/v1/sandboxes/sandbox-gone'), 200);
  // The extra token is refused like the first.
  expect((await t.call('GET', '/v1/sandbox/bundle', { token: extra.token })).status).toBe(401);
});

afterAll(async () => {
  await t?.close();
});

/** `METHOD /path/:param` lines from fastify's printRoutes tree (HEAD twins dropped). */
function routeTable(tree: string): string[] {
  const out: string[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^([│ ]*)[├└]── (\S+) \(([^)]*)\)/.exec(line);
    if (m === null) continue;
    const depth = (m[1] ?? '').length / 4;
    stack.length = depth;
    stack.push(m[2] ?? '');
    const path = stack.join('');
    for (const method of (m[3] ?? '').split(',').map((x) => x.trim())) if (method !== 'HEAD') out.push(`${method} ${path}`);
  }
  return out;
}

const PARAMS: Record<string, string> = { 'plan-a': ':name', ghost: ':name', 'sandbox-a': ':name', 'anthropic-oauth': ':id', 'ghost-route': ':route', 'inference.local': ':route' };

/** `/v1/providers/plan-a/refresh?x` → `/v1/providers/:name/refresh`. */
function patternOf(url: string): string {
  return (url.split('?')[0] ?? '').split('/').map((seg) => PARAMS[seg] ?? seg).join('/');
}

function expectedFor(ep: Endpoint, who: Principal): readonly number[] | 'authorized' {
  if (ep.kind === 'public') return 'authorized';
  if (ep.kind === 'admin') return who === 'admin' ? 'authorized' : who === 'none' || who === 'garbage' || who === 'deleted-sandbox' ? [401] : [401, 403];
  // Sandbox endpoints.
  if (who === 'this-sandbox') return 'authorized';
  if (who === 'other-sandbox') {
    if (ep.url.includes('sandbox=sandbox-a')) return [403];
    if (ep.url.includes('/credential-rejected')) return [403, 404];
    return 'authorized';
  }
  if (who === 'admin') return [401, 403];
  return [401];
}

describe('authorization matrix: every endpoint × every kind of caller', () => {
  it('covers every route the gateway registers (fastify route table), HEAD twins aside', () => {
    const registered = routeTable(t.gw.app.printRoutes({ commonPrefix: false }));
    const covered = new Set(ENDPOINTS.map((ep) => `${ep.method} ${patternOf(ep.url)}`));
    covered.add('POST /v1/admin/token/rotate'); // its own test below
    expect(registered.length).toBeGreaterThan(20);
    expect(registered.filter((r) => !covered.has(r))).toEqual([]);
  });

  for (const ep of ENDPOINTS) {
    it(`${ep.method} ${ep.url}`, async () => {
      for (const who of PRINCIPALS) {
        const res = await t.call(ep.method, ep.url, { token: tokens[who], ...(ep.body === undefined ? {} : { body: ep.body }) });
        const expected = expectedFor(ep, who);
        const label = `${ep.method} ${ep.url} as ${who}: ${res.status} ${res.text.slice(0, 200)}`;
        expect(res.status, label).toBeLessThan(500);
        if (expected === 'authorized') {
          expect([401, 403], label).not.toContain(res.status);
        } else {
          expect(expected, label).toContain(res.status);
          expect(typeof res.json?.error?.code, label).toBe('string');
          expect(res.json?.error?.message, label).toMatch(/\w{3,}/);
        }
        // No secret in any answer, except a sandbox's own bundle carrying its own route's credential.
        const ownBundle = who === 'this-sandbox' && (ep.url.startsWith('/v1/sandbox/bundle') || ep.url.endsWith('/credential-rejected'));
        if (!ownBundle) expect(res.text, label).not.toContain(SECRET_A);
        const ownBundleB = who === 'other-sandbox' && ep.url === '/v1/sandbox/bundle';
        if (!ownBundleB) expect(res.text, label).not.toContain(SECRET_B);
        expect(res.text, label).not.toContain(REFRESH_A);
        expect(res.text, label).not.toContain(CLIENT_SECRET_A);
      }
    });
  }

  it("another sandbox's credential-rejected report does not rotate or touch this sandbox's route", async () => {
    const before = await t.gw.store.getProvider('plan-a');
    const res = await t.call('POST', '/v1/sandbox/routes/inference.local/credential-rejected', {
      token: tokens['other-sandbox'],
      body: { fingerprint: JSON.parse((await t.call('GET', '/v1/providers/plan-a')).text).fingerprints.ANTHROPIC_OAUTH_TOKEN },
    });
    expect([403, 404]).toContain(res.status);
    const after = await t.gw.store.getProvider('plan-a');
    expect(after?.resourceVersion).toBe(before?.resourceVersion);
  });

  it("a sandbox's bundle holds only its bound routes", async () => {
    const a = JSON.parse((await t.call('GET', '/v1/sandbox/bundle', { token: tokens['this-sandbox'] })).text);
    const b = JSON.parse((await t.call('GET', '/v1/sandbox/bundle', { token: tokens['other-sandbox'] })).text);
    expect(a.routes.map((r: { name: string }) => r.name)).toEqual(['inference.local']);
    expect(b.routes.map((r: { name: string }) => r.name)).toEqual(['route-b']);
    expect(JSON.stringify(b)).not.toContain(SECRET_A);
    expect(JSON.stringify(a)).not.toContain(SECRET_B);
  });

  it('the admin token rotation is admin-only and the old admin token dies with it', async () => {
    for (const who of PRINCIPALS.filter((p) => p !== 'admin')) {
      const res = await t.call('POST', '/v1/admin/token/rotate', { token: tokens[who] });
      expect([401, 403], `${who}: ${res.status}`).toContain(res.status);
    }
    const rotated = await t.call('POST', '/v1/admin/token/rotate', { token: tokens.admin });
    expect(rotated.status).toBe(200);
    expect((await t.call('GET', '/v1/providers', { token: tokens.admin })).status).toBe(401);
    expect((await t.call('GET', '/v1/providers', { token: rotated.json.token })).status).toBe(200);
  });
});
