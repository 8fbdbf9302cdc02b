import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLAUDE_CODE_CLIENT_ID, CLAUDE_CODE_SCOPES } from './anthropic-contract.js';
import { createFakeTokenEndpoint, createPkcePair, type FakeTokenEndpoint, pkceChallenge } from './fake-token-endpoint.js';
import { headerValue, jsonBody } from './loopback-server.js';

const SCOPE = 'user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload';

async function refreshJson(
  endpoint: FakeTokenEndpoint,
  refreshToken: string | undefined,
  extra: Record<string, string | undefined> = {},
): Promise<{ status: number; json: Record<string, unknown>; headers: Headers; text: string }> {
  const body = { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: CLAUDE_CODE_CLIENT_ID, scope: SCOPE, ...extra };
  const response = await fetch(endpoint.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'axios/1.15.2' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = {};
  }
  return { status: response.status, json, headers: response.headers, text };
}

async function refreshForm(endpoint: FakeTokenEndpoint, refreshToken: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(endpoint.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: CLAUDE_CODE_CLIENT_ID }).toString(),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

const INVALID_GRANT = { error: 'invalid_grant', error_description: 'Refresh token not found or invalid' };
const INVALID_FORMAT = { error: 'invalid_request', error_description: 'Invalid request format' };

describe('createFakeTokenEndpoint refresh_token grant', () => {
  let endpoint: FakeTokenEndpoint;
  beforeAll(async () => {
    endpoint = await createFakeTokenEndpoint();
  });
  afterEach(() => {
    endpoint.reset();
    endpoint.configure({ encodings: ['json'], omitRefreshToken: false, rejectScope: false, requireScope: false, expiresIn: 28_800 });
  });
  afterAll(() => endpoint.close());

  it('issues logins with the real token prefixes and a millisecond expiry', () => {
    const before = Date.now();
    const login = endpoint.issueLogin({ expiresIn: 3600 });
    expect(login.accessToken).toMatch(/^sk-ant-oat01-[A-Za-z0-9_-]{20,}$/);
    expect(login.refreshToken).toMatch(/^sk-ant-ort01-[A-Za-z0-9_-]{20,}$/);
    expect(login.expiresAt).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(login.scopes).toEqual([...CLAUDE_CODE_SCOPES]);
    expect(endpoint.ledger.status(login.accessToken)).toBe('valid');
    expect(endpoint.isRefreshTokenValid(login.refreshToken!)).toBe(true);
  });

  it('rotates: answers new tokens, spends the old refresh token, revokes the old access token', async () => {
    const login = endpoint.issueLogin();
    const first = await refreshJson(endpoint, login.refreshToken);
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ token_type: 'Bearer', expires_in: 28_800, scope: SCOPE });
    expect(first.json.account).toMatchObject({ uuid: expect.any(String), email_address: expect.any(String) });
    expect(first.json.organization).toMatchObject({ uuid: expect.any(String) });
    const access = String(first.json.access_token);
    const rotated = String(first.json.refresh_token);
    expect(access).toMatch(/^sk-ant-oat01-/);
    expect(rotated).toMatch(/^sk-ant-ort01-/);
    expect(rotated).not.toBe(login.refreshToken);
    expect(endpoint.ledger.status(login.accessToken)).toBe('revoked');
    expect(endpoint.ledger.status(access)).toBe('valid');

    const reuse = await refreshJson(endpoint, login.refreshToken);
    expect(reuse.status).toBe(400);
    expect(reuse.json).toEqual(INVALID_GRANT);

    const second = await refreshJson(endpoint, rotated);
    expect(second.status).toBe(200);
    expect(endpoint.ledger.status(access)).toBe('revoked');
    expect(endpoint.rotations).toBe(2);
    expect(endpoint.calls).toHaveLength(3);
    expect(jsonBody(endpoint.calls[0]!)).toMatchObject({ grant_type: 'refresh_token', refresh_token: login.refreshToken });
  });

  it('omits refresh_token when configured, and the old one stays usable', async () => {
    endpoint.configure({ omitRefreshToken: true });
    const login = endpoint.issueLogin();
    const first = await refreshJson(endpoint, login.refreshToken);
    expect(first.status).toBe(200);
    expect('refresh_token' in first.json).toBe(false);
    expect(endpoint.isRefreshTokenValid(login.refreshToken!)).toBe(true);
    expect((await refreshJson(endpoint, login.refreshToken)).status).toBe(200);
  });

  it('answers a revoked refresh token with invalid_grant', async () => {
    const login = endpoint.issueLogin();
    endpoint.revokeRefreshToken(login.refreshToken!);
    expect(await refreshJson(endpoint, login.refreshToken)).toMatchObject({ status: 400, json: INVALID_GRANT });
  });

  it('answers form bodies "Invalid request format" by default without spending the token', async () => {
    const login = endpoint.issueLogin();
    expect(await refreshForm(endpoint, login.refreshToken!)).toEqual({ status: 400, json: INVALID_FORMAT });
    expect(endpoint.isRefreshTokenValid(login.refreshToken!)).toBe(true);
    expect((await refreshJson(endpoint, login.refreshToken)).status).toBe(200);
  });

  it('can accept only form bodies and reject JSON with "Invalid request format"', async () => {
    endpoint.configure({ encodings: ['form'] });
    const login = endpoint.issueLogin();
    expect(await refreshJson(endpoint, login.refreshToken)).toMatchObject({ status: 400, json: INVALID_FORMAT });
    const form = await refreshForm(endpoint, login.refreshToken!);
    expect(form.status).toBe(200);
    expect(String(form.json.access_token)).toMatch(/^sk-ant-oat01-/);
  });

  it('answers invalid_scope when scope is rejected, and succeeds without scope', async () => {
    endpoint.configure({ rejectScope: true });
    const login = endpoint.issueLogin();
    const rejected = await refreshJson(endpoint, login.refreshToken);
    expect(rejected.status).toBe(400);
    expect(rejected.json.error).toBe('invalid_scope');
    expect(endpoint.isRefreshTokenValid(login.refreshToken!)).toBe(true);
    expect((await refreshJson(endpoint, login.refreshToken, { scope: undefined })).status).toBe(200);
  });

  it('answers "Invalid request format" without scope when scope is required', async () => {
    endpoint.configure({ requireScope: true });
    const login = endpoint.issueLogin();
    expect(await refreshJson(endpoint, login.refreshToken, { scope: undefined })).toMatchObject({ status: 400, json: INVALID_FORMAT });
    expect((await refreshJson(endpoint, login.refreshToken)).status).toBe(200);
  });

  it('answers invalid_client for a foreign client id and "Invalid request format" for missing fields', async () => {
    const login = endpoint.issueLogin();
    const foreign = await refreshJson(endpoint, login.refreshToken, { client_id: '41077d10-0000-0000-0000-000000000000' });
    expect(foreign.status).toBe(400);
    expect(foreign.json.error).toBe('invalid_client');
    expect(await refreshJson(endpoint, undefined)).toMatchObject({ status: 400, json: INVALID_FORMAT });
    expect(await refreshJson(endpoint, login.refreshToken, { grant_type: 'password' })).toMatchObject({ status: 400 });
    expect(endpoint.isRefreshTokenValid(login.refreshToken!)).toBe(true);
  });

  it('uses expires_in for the issued access token, against the injected clock', async () => {
    let clock = 1_000_000;
    const timed = await createFakeTokenEndpoint({ now: () => clock, expiresIn: 60 });
    try {
      const login = timed.issueLogin();
      expect(login.expiresAt).toBe(1_060_000);
      const refreshed = await refreshJson(timed, login.refreshToken);
      expect(refreshed.json.expires_in).toBe(60);
      const access = String(refreshed.json.access_token);
      expect(timed.ledger.status(access)).toBe('valid');
      clock += 60_000;
      expect(timed.ledger.status(access)).toBe('expired');
    } finally {
      await timed.close();
    }
  });

  it('serves a configured token path and 404 elsewhere', async () => {
    const other = await createFakeTokenEndpoint({ path: '/api/oauth/token' });
    try {
      expect(other.tokenUrl).toBe(`${other.url}/api/oauth/token`);
      const login = other.issueLogin();
      expect((await refreshJson(other, login.refreshToken)).status).toBe(200);
      const wrong = await fetch(`${other.url}/v1/oauth/token`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
      expect(wrong.status).toBe(404);
      expect(other.calls).toHaveLength(1);
    } finally {
      await other.close();
    }
  });
});

describe('forced token-endpoint failures spend nothing', () => {
  let endpoint: FakeTokenEndpoint;
  beforeAll(async () => {
    endpoint = await createFakeTokenEndpoint();
  });
  afterEach(() => endpoint.reset());
  afterAll(() => endpoint.close());

  it('429 with Retry-After', async () => {
    const login = endpoint.issueLogin();
    endpoint.force({ kind: 'rate-limit', retryAfterSeconds: 7 });
    const limited = await refreshJson(endpoint, login.refreshToken);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
    expect(limited.json).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect((await refreshJson(endpoint, login.refreshToken)).status).toBe(200);
  });

  it('5xx, for the given number of calls', async () => {
    const login = endpoint.issueLogin();
    endpoint.force({ kind: 'server-error', status: 502 }, { times: 2 });
    expect((await refreshJson(endpoint, login.refreshToken)).status).toBe(502);
    expect((await refreshJson(endpoint, login.refreshToken)).status).toBe(502);
    expect((await refreshJson(endpoint, login.refreshToken)).status).toBe(200);
    expect(endpoint.calls).toHaveLength(3);
    expect(endpoint.rotations).toBe(1);
  });

  it('a 403 Cloudflare challenge page in HTML', async () => {
    const login = endpoint.issueLogin();
    endpoint.force({ kind: 'cloudflare-challenge' });
    const challenged = await refreshJson(endpoint, login.refreshToken);
    expect(challenged.status).toBe(403);
    expect(challenged.headers.get('content-type')).toMatch(/^text\/html/);
    expect(challenged.text).toContain('<title>Just a moment...</title>');
    expect(endpoint.isRefreshTokenValid(login.refreshToken!)).toBe(true);
  });

  it('a forced "Invalid request format"', async () => {
    const login = endpoint.issueLogin();
    endpoint.force({ kind: 'invalid-request-format' });
    expect(await refreshJson(endpoint, login.refreshToken)).toMatchObject({ status: 400, json: INVALID_FORMAT });
    expect(endpoint.isRefreshTokenValid(login.refreshToken!)).toBe(true);
  });

  it('a held answer is produced only after release (slow endpoint)', async () => {
    const login = endpoint.issueLogin();
    let release!: () => void;
    endpoint.force({ kind: 'hold', until: new Promise<void>((resolve) => { release = resolve; }) });
    const pending = refreshJson(endpoint, login.refreshToken);
    for (let i = 0; i < 200 && endpoint.calls.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(endpoint.calls).toHaveLength(1);
    expect(endpoint.calls[0]!.status).toBeUndefined();
    expect(endpoint.isRefreshTokenValid(login.refreshToken!)).toBe(true);
    release();
    expect((await pending).status).toBe(200);
    expect(endpoint.isRefreshTokenValid(login.refreshToken!)).toBe(false);
  });

  it('a slow answer still answers', async () => {
    const login = endpoint.issueLogin();
    endpoint.force({ kind: 'slow', ms: 20 });
    expect((await refreshJson(endpoint, login.refreshToken)).status).toBe(200);
  });

  it('a hang until the client aborts, and a reset connection', async () => {
    const login = endpoint.issueLogin();
    endpoint.force({ kind: 'hang' });
    const controller = new AbortController();
    const pending = fetch(endpoint.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: login.refreshToken, client_id: CLAUDE_CODE_CLIENT_ID }),
      signal: controller.signal,
    });
    for (let i = 0; i < 200 && endpoint.calls.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    controller.abort();
    await expect(pending).rejects.toThrow();
    endpoint.force({ kind: 'destroy' });
    await expect(refreshJson(endpoint, login.refreshToken)).rejects.toThrow();
    expect(endpoint.isRefreshTokenValid(login.refreshToken!)).toBe(true);
  });

  it('a raw answer', async () => {
    const login = endpoint.issueLogin();
    endpoint.force({ kind: 'raw', status: 404, body: 'not here' });
    const result = await refreshJson(endpoint, login.refreshToken);
    expect(result.status).toBe(404);
    expect(result.text).toBe('not here');
  });
});

describe('createFakeTokenEndpoint hooks', () => {
  it('runs beforeAnswer after the rotation and before the caller sees the answer', async () => {
    const order: string[] = [];
    const endpoint = await createFakeTokenEndpoint({
      beforeAnswer: ({ status, grantType, issued }) => {
        order.push(`hook:${status}:${grantType}:${issued === undefined ? 'none' : 'issued'}`);
      },
    });
    try {
      const login = endpoint.issueLogin();
      const pending = refreshJson(endpoint, login.refreshToken).then((result) => order.push(`caller:${result.status}`));
      await endpoint.waitForRotations(1);
      await pending;
      expect(order).toEqual(['hook:200:refresh_token:issued', 'caller:200']);
      expect(endpoint.isRefreshTokenValid(login.refreshToken!)).toBe(false);
    } finally {
      await endpoint.close();
    }
  });

  it('leaves the refresh token spent when the caller vanishes while beforeAnswer holds the answer', async () => {
    let seen!: () => void;
    const hookRan = new Promise<void>((resolve) => {
      seen = resolve;
    });
    let releaseHook!: () => void;
    const endpoint = await createFakeTokenEndpoint({
      beforeAnswer: () => {
        seen();
        return new Promise<void>((resolve) => {
          releaseHook = resolve;
        });
      },
    });
    try {
      const login = endpoint.issueLogin();
      const controller = new AbortController();
      const pending = fetch(endpoint.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: login.refreshToken, client_id: CLAUDE_CODE_CLIENT_ID }),
        signal: controller.signal,
      });
      await hookRan;
      controller.abort();
      await expect(pending).rejects.toThrow();
      releaseHook();
      expect(endpoint.rotations).toBe(1);
      endpoint.configure({ beforeAnswer: undefined });
      expect(await refreshJson(endpoint, login.refreshToken)).toMatchObject({ status: 400, json: INVALID_GRANT });
    } finally {
      await endpoint.close();
    }
  });

  it('applies a WAF rule by User-Agent before any token logic', async () => {
    const endpoint = await createFakeTokenEndpoint({
      waf: (call) => ((headerValue(call, 'user-agent') ?? '').startsWith('claude-cli/') ? { kind: 'cloudflare-challenge' } : undefined),
    });
    try {
      const login = endpoint.issueLogin();
      const blocked = await fetch(endpoint.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'claude-cli/2.1.2 (external, cli)' },
        body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: login.refreshToken, client_id: CLAUDE_CODE_CLIENT_ID }),
      });
      expect(blocked.status).toBe(403);
      await blocked.text();
      expect(endpoint.isRefreshTokenValid(login.refreshToken!)).toBe(true);
      expect((await refreshJson(endpoint, login.refreshToken)).status).toBe(200);
      await endpoint.waitForCalls(2);
    } finally {
      await endpoint.close();
    }
  });
});

describe('createFakeTokenEndpoint PKCE authorization-code flow', () => {
  let endpoint: FakeTokenEndpoint;
  const MANUAL_REDIRECT = 'https://platform.claude.com/oauth/code/callback';
  beforeAll(async () => {
    endpoint = await createFakeTokenEndpoint();
  });
  afterAll(() => endpoint.close());

  function authorizeUrl(challenge: string, state: string, overrides: Record<string, string | undefined> = {}): string {
    const params: Record<string, string | undefined> = {
      code: 'true',
      client_id: CLAUDE_CODE_CLIENT_ID,
      response_type: 'code',
      redirect_uri: MANUAL_REDIRECT,
      scope: CLAUDE_CODE_SCOPES.join(' '),
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state,
      ...overrides,
    };
    const url = new URL(endpoint.authorizeUrl);
    for (const [key, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(key, value);
    return url.toString();
  }

  async function exchange(fields: Record<string, string>) {
    const response = await fetch(endpoint.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'authorization_code', client_id: CLAUDE_CODE_CLIENT_ID, redirect_uri: MANUAL_REDIRECT, ...fields }),
    });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  }

  it('computes the S256 challenge as base64url(sha256(verifier))', () => {
    // RFC 7636 appendix B test vector.
    expect(pkceChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
    const pair = createPkcePair();
    expect(pkceChallenge(pair.verifier)).toBe(pair.challenge);
  });

  it('shows code#state for a manual redirect and exchanges it with the verifier', async () => {
    const { verifier, challenge } = createPkcePair();
    const page = await fetch(authorizeUrl(challenge, 'state-123'));
    expect(page.status).toBe(200);
    const paste = await page.text();
    const [code, state] = paste.split('#');
    expect(state).toBe('state-123');
    const exchanged = await exchange({ code: code!, code_verifier: verifier, state: 'state-123' });
    expect(exchanged.status).toBe(200);
    expect(String(exchanged.json.access_token)).toMatch(/^sk-ant-oat01-/);
    expect(String(exchanged.json.refresh_token)).toMatch(/^sk-ant-ort01-/);
    expect(endpoint.ledger.status(String(exchanged.json.access_token))).toBe('valid');
    expect(endpoint.isRefreshTokenValid(String(exchanged.json.refresh_token))).toBe(true);
    const reuse = await exchange({ code: code!, code_verifier: verifier, state: 'state-123' });
    expect(reuse).toEqual({ status: 400, json: { error: 'invalid_grant', error_description: 'Invalid authorization code' } });
  });

  it('rejects a wrong verifier, state or redirect_uri without using up the code', async () => {
    const { verifier, challenge } = createPkcePair();
    const authorization = endpoint.approve(authorizeUrl(challenge, 'st'));
    expect(authorization.paste).toBe(`${authorization.code}#st`);
    expect(await exchange({ code: authorization.code, code_verifier: createPkcePair().verifier, state: 'st' })).toEqual({
      status: 400,
      json: { error: 'invalid_grant', error_description: 'Invalid code verifier' },
    });
    expect((await exchange({ code: authorization.code, code_verifier: verifier, state: 'other' })).json).toMatchObject({ error: 'invalid_grant' });
    expect(
      await exchange({ code: authorization.code, code_verifier: verifier, state: 'st', redirect_uri: 'http://localhost:1/callback' }),
    ).toEqual({ status: 400, json: { error: 'invalid_grant', error_description: "Invalid 'redirect_uri' in request" } });
    expect((await exchange({ code: authorization.code, code_verifier: verifier, state: 'st' })).status).toBe(200);
  });

  it('redirects to a loopback redirect_uri with code and state', async () => {
    const { challenge } = createPkcePair();
    const page = await fetch(authorizeUrl(challenge, 'loop', { redirect_uri: 'http://localhost:54545/callback' }), { redirect: 'manual' });
    expect(page.status).toBe(302);
    const location = new URL(page.headers.get('location')!);
    expect(location.origin + location.pathname).toBe('http://localhost:54545/callback');
    expect(location.searchParams.get('state')).toBe('loop');
    expect(endpoint.authorizations.at(-1)?.code).toBe(location.searchParams.get('code'));
  });

  it('refuses an authorize request without an S256 challenge or with a foreign client', async () => {
    expect((await fetch(authorizeUrl('x', 's', { code_challenge: undefined }))).status).toBe(400);
    expect((await fetch(authorizeUrl('x', 's', { code_challenge_method: 'plain' }))).status).toBe(400);
    expect((await fetch(authorizeUrl('x', 's', { client_id: 'someone-else' }))).status).toBe(400);
    expect(() => endpoint.approve(authorizeUrl('x', 's', { state: undefined }))).toThrow(/state/);
  });

  it('gives an inference-only login no refresh token and honours a requested expires_in', async () => {
    const { verifier, challenge } = createPkcePair();
    const authorization = endpoint.approve(authorizeUrl(challenge, 's', { scope: 'user:inference' }));
    const exchanged = await exchange({ code: authorization.code, code_verifier: verifier, state: 's', expires_in: '31536000' });
    expect(exchanged.status).toBe(200);
    expect(exchanged.json.expires_in).toBe(31_536_000);
    expect('refresh_token' in exchanged.json).toBe(false);
  });
});
