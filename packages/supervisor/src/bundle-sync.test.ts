import { Secret } from '@openshell/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createBundleSync } from './bundle-sync.js';
import { SupervisorError } from './errors.js';
import { createLogger } from './logger.js';
import { anthropicOauthRoute, type FakeGateway, startFakeGateway } from './testing-fixtures/fake-gateway.js';

const TOKEN = 'sandbox-token-123456';
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function capture() {
  const lines: string[] = [];
  return { lines, log: createLogger({ stream: { write: (s: string) => lines.push(s) }, level: 'debug' }) };
}

async function setup(extra: { token?: string; expiresAt?: number } = {}) {
  const gateway = await startFakeGateway({
    token: TOKEN,
    environment: { GITHUB_TOKEN: 'ghp_injectable' },
    bundle: { routes: [anthropicOauthRoute({ baseUrl: 'http://127.0.0.1:9/v1', token: 'tok-A', ...(extra.expiresAt !== undefined ? { expiresAt: extra.expiresAt } : {}) })], egress: [] },
  });
  cleanups.push(() => gateway.close());
  const { lines, log } = capture();
  const sync = createBundleSync({ gatewayUrl: gateway.url, token: new Secret(extra.token ?? TOKEN), log, retry: { initialMs: 20, maxMs: 100 }, waitSeconds: 5 });
  cleanups.push(() => sync.close());
  return { gateway, sync, lines };
}

function rotate(gateway: FakeGateway, token: string, expiresAt?: number) {
  gateway.setBundle({ routes: [anthropicOauthRoute({ baseUrl: 'http://127.0.0.1:9/v1', token, ...(expiresAt !== undefined ? { expiresAt } : {}) })], egress: [] });
}

describe('createBundleSync', () => {
  it('fetches the environment and the bundle with the sandbox token as a bearer', async () => {
    const { gateway, sync } = await setup();
    const { environment, bundle } = await sync.start();
    expect(environment.environment).toEqual({ GITHUB_TOKEN: 'ghp_injectable' });
    expect(bundle.routes[0]?.auth.value).toBe('tok-A');
    expect(gateway.requests.map((r) => [r.method, r.url.split('?')[0], r.authorized])).toEqual([
      ['GET', '/v1/sandbox/environment', true],
      ['GET', '/v1/sandbox/bundle', true],
    ]);
  });

  it('stops at once with gateway_rejected when the token is refused', async () => {
    const { sync } = await setup({ token: 'wrong-token-000' });
    const err = await sync.start().catch((e: unknown) => e);
    expect(SupervisorError.isInstance(err) && err.code).toBe('gateway_rejected');
    expect(String((err as Error).message)).toContain('openshell sandbox run');
    expect(String((err as Error).message)).not.toContain('wrong-token-000');
  });

  it('retries with a clear message while the gateway is unavailable, then starts', async () => {
    const { gateway, sync, lines } = await setup();
    gateway.failWith(503);
    const started = sync.start();
    // Heal after the third refused attempt: a causal trigger, not a timer.
    for (let i = 0; i < 200 && gateway.requests.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    expect(gateway.requests.length).toBeGreaterThanOrEqual(3);
    gateway.failWith(undefined);
    const { bundle } = await started;
    expect(bundle.routes).toHaveLength(1);
    expect(lines.some((l) => /warn: .*HTTP 503.*retrying/.test(l))).toBe(true);
    expect(lines.join('')).not.toContain(TOKEN);
  });

  it('gives up with gateway_unreachable (and says how to fix it) when nothing listens', async () => {
    const gateway = await startFakeGateway({ token: TOKEN, bundle: { routes: [], egress: [] } });
    const url = gateway.url;
    await gateway.close();
    const { log } = capture();
    const sync = createBundleSync({ gatewayUrl: url, token: new Secret(TOKEN), log, retry: { initialMs: 5, maxMs: 10 }, startTimeoutMs: 100 });
    cleanups.push(() => sync.close());
    const err = await sync.start().catch((e: unknown) => e);
    expect(SupervisorError.isInstance(err) && err.code).toBe('gateway_unreachable');
    expect((err as Error).message).toMatch(/ECONNREFUSED.*openshell gateway start/);
  });

  it('long-polls: a rotation at the gateway reaches the snapshot without waiting for a timer', async () => {
    const { gateway, sync } = await setup();
    await sync.start();
    const updated = new Promise<string>((resolve) => sync.onUpdate((b) => resolve(b.routes[0]?.auth.value ?? '')));
    sync.watch();
    for (let i = 0; i < 200 && !gateway.requests.some((r) => r.url.includes('waitSeconds=5')); i++) await new Promise((r) => setTimeout(r, 5));
    rotate(gateway, 'tok-B');
    expect(await updated).toBe('tok-B');
    expect(sync.snapshot().routes[0]?.auth.value).toBe('tok-B');
  });

  it('keeps the last bundle when the gateway fails during the long-poll', async () => {
    const { gateway, sync, lines } = await setup();
    await sync.start();
    gateway.failWith(500);
    sync.watch();
    for (let i = 0; i < 200 && !lines.some((l) => l.includes('bundle sync failed')); i++) await new Promise((r) => setTimeout(r, 10));
    expect(lines.some((l) => l.includes('keeping the current routes'))).toBe(true);
    expect(sync.snapshot().routes[0]?.auth.value).toBe('tok-A');
    const route = await sync.usableRoute('inference.local');
    expect('auth' in route && route.auth.value).toBe('tok-A');
  });

  it('never hands out an expired credential: refetches first and takes the fresh one', async () => {
    const { gateway, sync } = await setup({ expiresAt: Date.now() - 1000 });
    await sync.start();
    rotate(gateway, 'tok-fresh', Date.now() + 3_600_000);
    const route = await sync.usableRoute('inference.local');
    expect('auth' in route && route.auth.value).toBe('tok-fresh');
  });

  it('usableRouteNow answers only when nothing is left to do: a fresh route yes; expired, unknown or re-auth-flagged no', async () => {
    const fresh = await setup({ expiresAt: Date.now() + 3_600_000 });
    await fresh.sync.start();
    expect(fresh.sync.usableRouteNow('inference.local')?.auth.value).toBe('tok-A');
    expect(fresh.sync.usableRouteNow('other.route')).toBeUndefined();

    const expired = await setup({ expiresAt: Date.now() - 1000 });
    await expired.sync.start();
    expect(expired.sync.usableRouteNow('inference.local')).toBeUndefined();
  });

  it('names the provider and the fix when the gateway has nothing fresh', async () => {
    const { gateway, sync } = await setup({ expiresAt: Date.now() - 1000 });
    await sync.start();
    gateway.failWith(503);
    const route = await sync.usableRoute('inference.local');
    expect(route).toMatchObject({ unavailable: 'credential_expired' });
    expect('message' in route && route.message).toMatch(/provider 'claude-plan'.*expired.*openshell provider refresh status claude-plan/);
    expect(JSON.stringify(route)).not.toContain('tok-A');
  });

  it('says how to configure a route when there is none', async () => {
    const { sync } = await setup();
    await sync.start();
    const route = await sync.usableRoute('other.route');
    expect(route).toMatchObject({ unavailable: 'no_route', message: expect.stringContaining('openshell inference set') });
  });

  it('credentialRejected reports the fingerprint and returns the rotated route, once per fingerprint', async () => {
    const { gateway, sync } = await setup();
    const { bundle } = await sync.start();
    const fp = bundle.routes[0]?.credential.fingerprint ?? '';
    const seen: string[] = [];
    gateway.onRejected((route, fingerprint) => {
      seen.push(`${route}:${fingerprint}`);
      return { routes: [anthropicOauthRoute({ baseUrl: 'http://127.0.0.1:9/v1', token: 'tok-rotated' })], egress: [] };
    });
    const [a, b] = await Promise.all([sync.credentialRejected('inference.local', fp), sync.credentialRejected('inference.local', fp)]);
    expect(a?.auth.value).toBe('tok-rotated');
    expect(b).toBe(a);
    expect(seen).toEqual([`inference.local:${fp}`]);
  });

  it('credentialRejected returns undefined when the gateway could not rotate', async () => {
    const { gateway, sync } = await setup();
    const { bundle } = await sync.start();
    gateway.onRejected(() => undefined);
    expect(await sync.credentialRejected('inference.local', bundle.routes[0]?.credential.fingerprint ?? '')).toBeUndefined();
  });

  it('reauth_required: refuses with the fix, then refuses that credential before sending it again, until it changes', async () => {
    const { gateway, sync } = await setup();
    const { bundle } = await sync.start();
    const fp = bundle.routes[0]?.credential.fingerprint ?? '';
    gateway.onRejected(() => undefined);
    gateway.setRejectedResult('reauth_required');
    const answer = await sync.credentialRejected('inference.local', fp);
    expect(answer).toEqual({ refuse: { message: expect.stringContaining('openshell provider update claude-plan --from-claude-login') } });
    const later = await sync.usableRoute('inference.local');
    expect(later).toMatchObject({ unavailable: 'reauth_required', message: expect.stringMatching(/^provider 'claude-plan' needs re-authorization: .*--from-claude-login/) });
    // The hot path's shortcut never hands out the credential the gateway gave up on.
    expect(sync.usableRouteNow('inference.local')).toBeUndefined();
    rotate(gateway, 'tok-after-login');
    sync.watch();
    for (let i = 0; i < 300; i++) {
      const r = await sync.usableRoute('inference.local');
      if ('auth' in r) break;
      await new Promise((res) => setTimeout(res, 10));
    }
    const after = await sync.usableRoute('inference.local');
    expect('auth' in after && after.auth.value).toBe('tok-after-login');
  });

  it("reauth_required: the gateway's own fix message wins when it sends one", async () => {
    const { gateway, sync } = await setup();
    const { bundle } = await sync.start();
    gateway.setRejectedResult('reauth_required', 'run `openshell provider update claude-plan --oauth-login`');
    const answer = await sync.credentialRejected('inference.local', bundle.routes[0]?.credential.fingerprint ?? '');
    expect(answer).toEqual({ refuse: { message: 'run `openshell provider update claude-plan --oauth-login`' } });
  });
});
