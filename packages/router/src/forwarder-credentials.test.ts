import type { BundleRoute } from '@openshell/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RouteRefreshHook, createForwarder } from './forwarder.js';
import { claudeCodeBody } from './testing-fixtures/claude-code-body.js';
import { TEST_OAUTH_TOKEN, linesOf, oauthRoute } from './testing-fixtures/routes.js';
import { type TestServer, send, sha256, startRouter, startUpstream } from './testing-fixtures/servers.js';

const FRESH_TOKEN = 'sk-ant-oat01-FRESH-TEST-ONLY-9876543210';
const OTHER_BAD_TOKEN = 'sk-ant-oat01-ALSO-REJECTED-TEST-ONLY';
const UPSTREAM_401 = '{"type":"error","error":{"type":"authentication_error","message":"OAuth token has expired. Please obtain a new token or refresh your existing token."}}';

let upstream: TestServer;

beforeAll(async () => {
  // Accepts only FRESH_TOKEN; everything else gets Anthropic's expired-token 401.
  upstream = await startUpstream((_req, res, recorded) => {
    const auth = linesOf(recorded.rawHeaders, 'authorization');
    if (auth.length === 1 && auth[0] === `Bearer ${FRESH_TOKEN}`) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"id":"msg_1","type":"message"}');
      return;
    }
    res.writeHead(401, { 'content-type': 'application/json', 'request-id': 'req_401', 'x-should-apply': 'yes' });
    res.end(UPSTREAM_401);
  });
});

afterEach(() => {
  upstream.requests.length = 0;
});

afterAll(async () => {
  await upstream.close();
});

function withToken(route: BundleRoute, token: string, fingerprint: string, extra: Partial<BundleRoute['credential']> = {}): BundleRoute {
  return { ...route, auth: { ...route.auth, value: token }, credential: { ...route.credential, fingerprint, ...extra } };
}

// Every behaviour is proven for both upstream transports (ForwarderSettings.transport).
const TRANSPORTS = ['undici', 'h1'] as const;

describe.each(TRANSPORTS)('transport %s', (transport) => {
  async function run(route: BundleRoute, hooks: { rejected?: RouteRefreshHook; expired?: RouteRefreshHook; now?: () => number }, body: string) {
    const forwarder = createForwarder({
      transport,
      ...(hooks.rejected ? { onCredentialRejected: hooks.rejected } : {}),
      ...(hooks.expired ? { onCredentialExpired: hooks.expired } : {}),
      ...(hooks.now ? { now: hooks.now } : {}),
    });
    const router = await startRouter(forwarder, () => route);
    try {
      const res = await send(router.url, { path: '/v1/messages?beta=true', headers: { 'content-type': 'application/json' }, body });
      const result = await router.waitForResult(() => true);
      return { res, result };
    } finally {
      await router.close();
      await forwarder.close();
    }
  }

  describe('401 credential retry', () => {
    it('retries once with the fresh route and the same held body', async () => {
      const route = oauthRoute(`${upstream.url}/v1`, { model: 'claude-sonnet-4-6' });
      const calls: string[] = [];
      const body = claudeCodeBody('claude-opus-4-1', 64 * 1024);
      const { res, result } = await run(
        route,
        {
          rejected: async (r) => {
            calls.push(r.credential.fingerprint);
            return withToken(r, FRESH_TOKEN, 'fp-fresh');
          },
        },
        body.text,
      );
      expect(res.status).toBe(200);
      expect(calls).toEqual(['fp-oauth-1']);
      expect(upstream.requests.map((r) => linesOf(r.rawHeaders, 'authorization'))).toEqual([[`Bearer ${TEST_OAUTH_TOKEN}`], [`Bearer ${FRESH_TOKEN}`]]);
      const expected = sha256(body.expectedWithModel('claude-sonnet-4-6'));
      expect(upstream.requests.map((r) => sha256(r.body))).toEqual([expected, expected]);
      expect(upstream.requests.map((r) => r.url)).toEqual(['/v1/messages?beta=true', '/v1/messages?beta=true']);
      expect(result.attempts).toBe(2);
      expect(result.route.credential.fingerprint).toBe('fp-fresh');
    });

    it('never retries twice: a second 401 is relayed as it came', async () => {
      const route = oauthRoute(`${upstream.url}/v1`);
      let calls = 0;
      const { res, result } = await run(
        route,
        {
          rejected: (r) => {
            calls++;
            return withToken(r, OTHER_BAD_TOKEN, `fp-bad-${calls}`);
          },
        },
        '{"model":"m"}',
      );
      expect(res.status).toBe(401);
      expect(res.body.toString()).toBe(UPSTREAM_401);
      expect(calls).toBe(1);
      expect(upstream.requests).toHaveLength(2);
      expect(result.attempts).toBe(2);
    });

    it('relays the original 401 (status, headers, body) when the hook has no fresh route', async () => {
      const route = oauthRoute(`${upstream.url}/v1`);
      let calls = 0;
      const { res } = await run(
        route,
        {
          rejected: () => {
            calls++;
            return undefined;
          },
        },
        '{}',
      );
      expect(res.status).toBe(401);
      expect(res.body.toString()).toBe(UPSTREAM_401);
      expect(res.headers['request-id']).toBe('req_401');
      expect(res.headers['x-should-apply']).toBe('yes');
      expect(calls).toBe(1);
      expect(upstream.requests).toHaveLength(1);
    });

    it('does not retry when the hook hands back the same credential', async () => {
      const route = oauthRoute(`${upstream.url}/v1`);
      let calls = 0;
      const { res } = await run(
        route,
        {
          rejected: (r) => {
            calls++;
            return { ...r, credential: { ...r.credential, fingerprint: 'fp-same-token' } };
          },
        },
        '{}',
      );
      expect(res.status).toBe(401);
      expect(res.body.toString()).toBe(UPSTREAM_401);
      expect(calls).toBe(1);
      expect(upstream.requests).toHaveLength(1);
    });

    it('answers reauth_required in the protocol shape when the hook refuses (no fresh credential without a person)', async () => {
      const route = oauthRoute(`${upstream.url}/v1`);
      const fix = 'run `openshell provider update claude-plan --from-claude-login`';
      const { res, result } = await run(route, { rejected: () => ({ refuse: { message: fix } }) }, '{}');
      expect(res.status).toBe(401);
      expect(res.headers['x-openshell-error']).toBe('reauth_required');
      expect(JSON.parse(res.body.toString())).toEqual({
        type: 'error',
        error: { type: 'authentication_error', message: expect.stringContaining("provider 'claude-plan' needs re-authorization") },
      });
      expect(res.body.toString()).toContain('openshell provider update claude-plan --from-claude-login');
      expect(res.body.toString()).not.toContain(TEST_OAUTH_TOKEN);
      expect(upstream.requests).toHaveLength(1);
      expect(result.error?.code).toBe('reauth_required');
    });

    it('relays the original 401 when the hook throws', async () => {
      const route = oauthRoute(`${upstream.url}/v1`);
      const { res } = await run(
        route,
        {
          rejected: () => {
            throw new Error('gateway unreachable');
          },
        },
        '{}',
      );
      expect(res.status).toBe(401);
      expect(res.body.toString()).toBe(UPSTREAM_401);
    });

    it('relays the original 401 when the hook does not answer in time', async () => {
      const route = oauthRoute(`${upstream.url}/v1`);
      const forwarder = createForwarder({ transport, hookTimeoutMs: 50, onCredentialRejected: () => new Promise<undefined>(() => {}) });
      const router = await startRouter(forwarder, () => route);
      try {
        const res = await send(router.url, { path: '/v1/messages', headers: { 'content-type': 'application/json' }, body: '{}' });
        expect(res.status).toBe(401);
        expect(res.body.toString()).toBe(UPSTREAM_401);
        expect(upstream.requests).toHaveLength(1);
      } finally {
        await router.close();
        await forwarder.close();
      }
    });

    it('does not call the hook when the credential is not refreshable', async () => {
      const route = oauthRoute(`${upstream.url}/v1`, { credential: { fingerprint: 'fp', refreshable: false } });
      let calls = 0;
      const { res } = await run(
        route,
        {
          rejected: () => {
            calls++;
            return withToken(route, FRESH_TOKEN, 'fp-fresh');
          },
        },
        '{}',
      );
      expect(res.status).toBe(401);
      expect(calls).toBe(0);
      expect(upstream.requests).toHaveLength(1);
    });
  });

  describe('credential expiry', () => {
    const NOW = 1_800_000_000_000;

    it('never sends a credential past expiresAt: fails with credential_expired, nothing sent, no secret in the error', async () => {
      const route = oauthRoute(`${upstream.url}/v1`, { credential: { fingerprint: 'fp-old', refreshable: true, expiresAt: NOW - 1 } });
      const { res, result } = await run(route, { now: () => NOW }, '{}');
      expect(res.status).toBe(503);
      const parsed = JSON.parse(res.body.toString()) as { type: string; error: { type: string; message: string } };
      expect(parsed.type).toBe('error');
      expect(parsed.error.message).toContain('credential_expired');
      expect(parsed.error.message).toContain('openshell provider refresh status claude-plan');
      expect(res.body.toString()).not.toContain(TEST_OAUTH_TOKEN);
      expect(upstream.requests).toHaveLength(0);
      expect(result.error?.code).toBe('credential_expired');
    });

    it('uses the fresh route from onCredentialExpired', async () => {
      const route = oauthRoute(`${upstream.url}/v1`, { credential: { fingerprint: 'fp-old', refreshable: true, expiresAt: NOW } });
      const { res } = await run(
        route,
        { now: () => NOW, expired: (r) => withToken(r, FRESH_TOKEN, 'fp-new', { expiresAt: NOW + 3_600_000 }) },
        '{}',
      );
      expect(res.status).toBe(200);
      expect(upstream.requests.map((r) => linesOf(r.rawHeaders, 'authorization'))).toEqual([[`Bearer ${FRESH_TOKEN}`]]);
    });

    it('answers reauth_required when the expiry hook refuses', async () => {
      const route = oauthRoute(`${upstream.url}/v1`, { credential: { fingerprint: 'fp-old', refreshable: false, expiresAt: NOW - 1 } });
      const { res } = await run(route, { now: () => NOW, expired: () => ({ refuse: { message: 'run `openshell provider update claude-plan --oauth-login`' } }) }, '{}');
      expect(res.status).toBe(401);
      expect(res.headers['x-openshell-error']).toBe('reauth_required');
      expect(res.body.toString()).toContain('--oauth-login');
      expect(upstream.requests).toHaveLength(0);
    });

    it('refuses a "fresh" route that is still expired', async () => {
      const route = oauthRoute(`${upstream.url}/v1`, { credential: { fingerprint: 'fp-old', refreshable: true, expiresAt: NOW - 5 } });
      const { res } = await run(route, { now: () => NOW, expired: (r) => withToken(r, FRESH_TOKEN, 'fp-new', { expiresAt: NOW - 1 }) }, '{}');
      expect(res.status).toBe(503);
      expect(res.body.toString()).not.toContain(FRESH_TOKEN);
      expect(upstream.requests).toHaveLength(0);
    });
  });
});
