import { parseRouteBundle, type RouteBundle } from '@openshell/core';
import { canaryScan } from '@openshell/testing';
import fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fingerprintSecret } from '../crypto/fingerprint.js';
import { createRefreshHarness, KEY, PROVIDER, type RefreshHarness } from '../testing-fixtures/refresh/refresh-harness.js';
import { refreshRoutes } from './refresh-routes.js';

const ADMIN = { authorization: 'Bearer admin-token' };
const SANDBOX = { authorization: 'Bearer sandbox-dev' };

let h: RefreshHarness;
let app: FastifyInstance;
let bundlesBuilt = 0;

/** A minimal bundle for the sandbox's bound route, carrying the current credential's fingerprint. */
async function bundleFor(sandbox: string): Promise<RouteBundle> {
  bundlesBuilt += 1;
  const provider = (await h.store.getProvider(PROVIDER))!;
  const value = provider.credentials[KEY] ?? '';
  return parseRouteBundle({
    schemaVersion: 1,
    revision: fingerprintSecret(`${sandbox}:${value}`),
    routes: [
      {
        name: 'inference.local',
        providerName: PROVIDER,
        providerType: 'anthropic-oauth',
        baseUrl: 'https://api.anthropic.com',
        protocols: ['anthropic_messages'],
        timeouts: { connectMs: 10_000, firstByteMs: 120_000, idleMs: 300_000 },
        auth: { style: 'bearer', headerName: 'authorization', value },
        headerPolicy: { required: [{ name: 'anthropic-beta', value: 'oauth-2025-04-20', merge: 'list' }], defaults: {}, passthrough: [] },
        credential: { fingerprint: fingerprintSecret(value), refreshable: true },
        clientEnv: {},
      },
    ],
    egress: [{ host: 'api.anthropic.com', port: 443 }],
  });
}

async function requireAdmin(request: FastifyRequest, reply: FastifyReply) {
  if (request.headers.authorization !== ADMIN.authorization) return reply.code(401).send({ error: { code: 'unauthenticated', message: 'admin token required' } });
}
async function requireSandbox(request: FastifyRequest, reply: FastifyReply) {
  if (!request.headers.authorization?.startsWith('Bearer sandbox-')) return reply.code(401).send({ error: { code: 'unauthenticated', message: 'sandbox token required' } });
}

beforeEach(async () => {
  bundlesBuilt = 0;
  h = await createRefreshHarness();
  app = fastify();
  await app.register(refreshRoutes, {
    engine: h.engine,
    store: h.store,
    requireAdmin,
    requireSandbox,
    sandboxOf: (request) => request.headers.authorization?.slice('Bearer sandbox-'.length),
    buildBundleFor: bundleFor,
  });
  await app.ready();
});
afterEach(async () => {
  await app.close();
  await h.close();
});

describe('admin refresh API', () => {
  it('configures, reports, rotates and deletes without ever returning material', async () => {
    const login = h.fake.issueLogin();
    h.secrets.push(login.accessToken, login.refreshToken!);
    await h.store.createProvider({ name: PROVIDER, type: 'anthropic-oauth', credentials: { [KEY]: login.accessToken } });
    const bodies: string[] = [];

    const put = await app.inject({ method: 'PUT', url: `/v1/providers/${PROVIDER}/refresh`, headers: ADMIN, payload: { material: { refresh_token: login.refreshToken }, expiresAt: login.expiresAt } });
    bodies.push(put.body);
    expect(put.statusCode).toBe(200);
    expect(put.json()).toMatchObject({ provider: PROVIDER, credentialKey: KEY, status: 'configured', expiresAt: login.expiresAt, nextRefreshAt: login.expiresAt - 300_000 });
    expect((await h.store.getProvider(PROVIDER))!.credentialExpiresAt[KEY]).toBe(login.expiresAt);

    const got = await app.inject({ method: 'GET', url: `/v1/providers/${PROVIDER}/refresh`, headers: ADMIN });
    bodies.push(got.body);
    expect(got.json().credentials).toHaveLength(1);

    const rotated = await app.inject({ method: 'POST', url: `/v1/providers/${PROVIDER}/refresh/rotate`, headers: ADMIN, payload: {} });
    bodies.push(rotated.body);
    expect(rotated.statusCode).toBe(200);
    expect(rotated.json()).toMatchObject({ status: 'refreshed', consecutiveFailures: 0 });
    expect(h.fake.calls).toHaveLength(1);

    h.fake.force({ kind: 'server-error', status: 500 });
    const failed = await app.inject({ method: 'POST', url: `/v1/providers/${PROVIDER}/refresh/rotate`, headers: ADMIN });
    bodies.push(failed.body);
    expect(failed.statusCode).toBe(502);
    expect(failed.json()).toMatchObject({ error: { code: 'refresh_failed' }, status: { status: 'error', consecutiveFailures: 1 } });

    h.fake.revokeRefreshToken(h.secrets.at(-1)!);
    const terminal = await app.inject({ method: 'POST', url: `/v1/providers/${PROVIDER}/refresh/rotate`, headers: ADMIN });
    bodies.push(terminal.body);
    expect(terminal.statusCode).toBe(409);
    expect(terminal.json().error.code).toBe('reauth_required');
    expect(terminal.json().error.message).toContain(`openshell provider update ${PROVIDER} --from-claude-login`);

    const del = await app.inject({ method: 'DELETE', url: `/v1/providers/${PROVIDER}/refresh`, headers: ADMIN });
    expect(del.json()).toEqual({ deleted: true });
    expect((await app.inject({ method: 'GET', url: `/v1/providers/${PROVIDER}/refresh`, headers: ADMIN })).json()).toEqual({ credentials: [] });
    const again = await app.inject({ method: 'DELETE', url: `/v1/providers/${PROVIDER}/refresh`, headers: ADMIN });
    expect(again.statusCode).toBe(404);
    expect(again.json().error.code).toBe('refresh_not_configured');
    // The minted access token stays with the provider.
    expect((await h.store.getProvider(PROVIDER))!.credentials[KEY]).toMatch(/^sk-ant-oat01-/);

    expect(await canaryScan(bodies, h.secrets.filter((s) => s !== ''))).toEqual([]);
  });

  it.each([
    ['token_url in material', { material: { refresh_token: 'sk-ant-ort01-x', token_url: 'https://evil.example.invalid/t' } }, /token_url.*profile/],
    ['scope in material', { material: { refresh_token: 'sk-ant-ort01-x', scope: 'all' } }, /scope.*profile/],
    ['unknown material key', { material: { refresh_token: 'sk-ant-ort01-x', color: 'blue' } }, /unknown material key 'color'/],
    ['missing refresh_token', { material: {} }, /refresh_token/],
    ['credential key the profile does not refresh', { credentialKey: 'OTHER_KEY', material: { refresh_token: 'sk-ant-ort01-x' } }, /not refreshable/],
    ['negative expiry', { material: { refresh_token: 'sk-ant-ort01-x' }, expiresAt: -1 }, /expiresAt/],
  ])('refuses %s with a message naming the problem, and changes nothing', async (_name, payload, message) => {
    await h.store.createProvider({ name: PROVIDER, type: 'anthropic-oauth', credentials: {} });
    const res = await app.inject({ method: 'PUT', url: `/v1/providers/${PROVIDER}/refresh`, headers: ADMIN, payload });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('invalid_request');
    expect(res.json().error.message).toMatch(message);
    expect(res.body).not.toContain('sk-ant-ort01-x');
    expect(await h.store.listRefreshStates(PROVIDER)).toEqual([]);
  });

  it('answers 404 for an unknown provider and 401 without the admin token', async () => {
    const missing = await app.inject({ method: 'PUT', url: '/v1/providers/nope/refresh', headers: ADMIN, payload: { material: { refresh_token: 'sk-ant-ort01-x' } } });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('provider_not_found');
    const anon = await app.inject({ method: 'GET', url: `/v1/providers/${PROVIDER}/refresh` });
    expect(anon.statusCode).toBe(401);
    const rotateMissing = await app.inject({ method: 'POST', url: '/v1/providers/nope/refresh/rotate', headers: ADMIN });
    expect(rotateMissing.statusCode).toBe(404);
  });
});

describe('credential-rejected', () => {
  beforeEach(async () => {
    await h.seed();
    await h.store.putRoute({ name: 'inference.local', provider: PROVIDER });
    await h.store.createSandbox({ name: 'dev', providers: [PROVIDER] });
    await h.store.createSandbox({ name: 'other', providers: [] });
  });

  it('200 concurrent reports plus the scheduler cause exactly one token request, and every caller gets the fresh bundle', async () => {
    const before = (await h.store.getProvider(PROVIDER))!.credentials[KEY]!;
    h.clock.set((await h.store.getRefreshState(PROVIDER, KEY))!.nextRefreshAt!);
    h.fake.force({ kind: 'slow', ms: 200 });
    const fingerprint = fingerprintSecret(before);
    const reports = Array.from({ length: 200 }, () =>
      app.inject({ method: 'POST', url: '/v1/sandbox/routes/inference.local/credential-rejected', headers: SANDBOX, payload: { fingerprint } }),
    );
    const [responses] = await Promise.all([Promise.all(reports), h.engine.tick()]);
    expect(h.fake.calls).toHaveLength(1);
    const after = (await h.store.getProvider(PROVIDER))!.credentials[KEY]!;
    expect(after).not.toBe(before);
    for (const res of responses) {
      expect(res.statusCode).toBe(200);
      const bundle = parseRouteBundle(res.json());
      expect(bundle.routes[0]!.credential.fingerprint).toBe(fingerprintSecret(after));
    }
    expect(bundlesBuilt).toBe(200);
  });

  it('does not rotate for a fingerprint that is no longer current', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/sandbox/routes/inference.local/credential-rejected', headers: SANDBOX, payload: { fingerprint: 'aaaaaaaaaaaa' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['openshell-refresh-result']).toBe('not_current');
    expect(h.fake.calls).toHaveLength(0);
  });

  it('a report that ends in reauth_required says so, with the secret-free fix in openshell-refresh-message, also on a later report', async () => {
    const fingerprint = fingerprintSecret((await h.store.getProvider(PROVIDER))!.credentials[KEY]!);
    h.fake.force({ kind: 'raw', status: 400, contentType: 'application/json', body: JSON.stringify({ error: 'invalid_grant', error_description: 'Refresh token not found or invalid' }) });
    const report = () => app.inject({ method: 'POST', url: '/v1/sandbox/routes/inference.local/credential-rejected', headers: SANDBOX, payload: { fingerprint } });
    for (const res of [await report(), await report()]) {
      expect(res.statusCode).toBe(200);
      expect(res.headers['openshell-refresh-result']).toBe('reauth_required');
      expect(res.headers['openshell-refresh-message']).toContain(`openshell provider update ${PROVIDER} --from-claude-login`);
      expect(await canaryScan([String(res.headers['openshell-refresh-message'])], h.secrets)).toEqual([]);
    }
    expect(h.fake.calls).toHaveLength(1);
  });

  it('refuses a sandbox the route is not bound to, an unknown route, and a bad body', async () => {
    const fingerprint = fingerprintSecret((await h.store.getProvider(PROVIDER))!.credentials[KEY]!);
    const other = await app.inject({ method: 'POST', url: '/v1/sandbox/routes/inference.local/credential-rejected', headers: { authorization: 'Bearer sandbox-other' }, payload: { fingerprint } });
    expect(other.statusCode).toBe(403);
    const unknown = await app.inject({ method: 'POST', url: '/v1/sandbox/routes/nope/credential-rejected', headers: SANDBOX, payload: { fingerprint } });
    expect(unknown.statusCode).toBe(404);
    const bad = await app.inject({ method: 'POST', url: '/v1/sandbox/routes/inference.local/credential-rejected', headers: SANDBOX, payload: { fp: 1 } });
    expect(bad.statusCode).toBe(400);
    const anon = await app.inject({ method: 'POST', url: '/v1/sandbox/routes/inference.local/credential-rejected', payload: { fingerprint } });
    expect(anon.statusCode).toBe(401);
    expect(h.fake.calls).toHaveLength(0);
  });
});
