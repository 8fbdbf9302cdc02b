import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Secret } from '@openshell/core';
import { CLAUDE_CODE_CLIENT_ID, createFakeTokenEndpoint, type FakeTokenEndpoint, headerValue, jsonBody } from '@openshell/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeTokenRequest, exchangeRefreshToken, type TokenRequestSpec, tokenUrlProblem } from './token-request.js';

const SCOPES = ['user:profile', 'user:inference'];
let fake: FakeTokenEndpoint;

beforeEach(async () => {
  fake = await createFakeTokenEndpoint({ expiresIn: 3600 });
});
afterEach(async () => {
  await fake.close();
});

function spec(refreshToken: string, overrides: Partial<TokenRequestSpec> = {}): TokenRequestSpec {
  return {
    tokenUrls: [fake.tokenUrl],
    encoding: 'json',
    clientId: CLAUDE_CODE_CLIENT_ID,
    refreshToken: new Secret(refreshToken),
    scopes: SCOPES,
    userAgent: 'axios/1.15.2',
    timeoutMs: 5_000,
    ...overrides,
  };
}

const now = () => Date.now();

/** A port on 127.0.0.1 with nothing listening (bound then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('exchangeRefreshToken', () => {
  it('sends the JSON body Claude Code sends, with the profile user agent, and parses the rotation', async () => {
    const login = fake.issueLogin();
    const result = await exchangeRefreshToken(spec(login.refreshToken!), { now });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.attempts).toBe(1);
    expect(result.grant.expiresIn).toBe(3600);
    expect(result.grant.refreshToken?.reveal()).toMatch(/^sk-ant-ort01-/);
    expect(result.grant.refreshToken?.reveal()).not.toBe(login.refreshToken);
    expect(fake.isRefreshTokenValid(login.refreshToken!)).toBe(false);
    const call = fake.calls[0]!;
    expect(headerValue(call, 'content-type')).toBe('application/json');
    expect(headerValue(call, 'user-agent')).toBe('axios/1.15.2');
    expect(jsonBody(call)).toEqual({
      grant_type: 'refresh_token',
      refresh_token: login.refreshToken,
      client_id: CLAUDE_CODE_CLIENT_ID,
      scope: SCOPES.join(' '),
    });
  });

  it('form-encodes for RFC 6749 profiles and includes client_secret only when given', () => {
    const s = spec('rt-value-1234567890', { encoding: 'form', clientSecret: new Secret('cs-1') });
    const form = encodeTokenRequest(s, 'form', true);
    expect(form.contentType).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(form.body))).toEqual({
      grant_type: 'refresh_token',
      refresh_token: 'rt-value-1234567890',
      client_id: CLAUDE_CODE_CLIENT_ID,
      client_secret: 'cs-1',
      scope: SCOPES.join(' '),
    });
    const noScope = JSON.parse(encodeTokenRequest(spec('rt', { scopes: [] }), 'json', true).body) as Record<string, string>;
    expect(Object.keys(noScope)).toEqual(['grant_type', 'refresh_token', 'client_id']);
  });

  it('retries once in the other encoding on 400 "Invalid request format" without spending the token', async () => {
    fake.configure({ encodings: ['form'] });
    const login = fake.issueLogin();
    const result = await exchangeRefreshToken(spec(login.refreshToken!), { now });
    expect(result.ok).toBe(true);
    expect(fake.calls.map((c) => headerValue(c, 'content-type'))).toEqual(['application/json', 'application/x-www-form-urlencoded']);
    expect(fake.calls.map((c) => c.status)).toEqual([400, 200]);
    expect(fake.rotations).toBe(1);
  });

  it('gives up after one encoding retry (bounded) and leaves the token unspent', async () => {
    fake.force({ kind: 'invalid-request-format' }, { times: 5 });
    const login = fake.issueLogin();
    const result = await exchangeRefreshToken(spec(login.refreshToken!), { now });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.failure.class).toBe('error');
    expect(fake.calls).toHaveLength(2);
    expect(fake.isRefreshTokenValid(login.refreshToken!)).toBe(true);
  });

  it('retries once without scope on invalid_scope', async () => {
    fake.configure({ rejectScope: true });
    const login = fake.issueLogin();
    const result = await exchangeRefreshToken(spec(login.refreshToken!), { now });
    expect(result.ok).toBe(true);
    expect(fake.calls.map((c) => (jsonBody(c) as Record<string, unknown>).scope)).toEqual([SCOPES.join(' '), undefined]);
  });

  it('moves to the next token URL on 404 and on a refused connection, in order', async () => {
    const login = fake.issueLogin();
    const dead = `http://127.0.0.1:${await closedPort()}/v1/oauth/token`;
    const result = await exchangeRefreshToken(spec(login.refreshToken!, { tokenUrls: [dead, `${fake.url}/gone/token`, fake.tokenUrl] }), { now });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.attempts).toBe(3);
    expect(fake.requests.map((r) => r.path)).toEqual(['/gone/token', '/v1/oauth/token']);
  });

  it('does not move to the next URL on a 5xx (the token may be spent there)', async () => {
    fake.force({ kind: 'server-error', status: 502 });
    const login = fake.issueLogin();
    const second = await createFakeTokenEndpoint();
    try {
      const result = await exchangeRefreshToken(spec(login.refreshToken!, { tokenUrls: [fake.tokenUrl, second.tokenUrl] }), { now });
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.failure.class).toBe('transient');
      expect(second.calls).toHaveLength(0);
    } finally {
      await second.close();
    }
  });

  it('reports every URL unreachable as transient', async () => {
    const result = await exchangeRefreshToken(spec('rt-xxxxxxxxxx', { tokenUrls: [`http://127.0.0.1:${await closedPort()}/t`] }), { now });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.failure.class).toBe('transient');
  });

  it('does not follow redirects', async () => {
    let hits = 0;
    const server = createServer((_req, res) => {
      hits += 1;
      res.writeHead(307, { location: fake.tokenUrl });
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const login = fake.issueLogin();
      const result = await exchangeRefreshToken(spec(login.refreshToken!, { tokenUrls: [`http://127.0.0.1:${port}/token`] }), { now });
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.failure.message).toMatch(/redirects are not followed/);
      expect(hits).toBe(1);
      expect(fake.calls).toHaveLength(0);
    } finally {
      server.close();
    }
  });

  it('times out a hanging endpoint as transient', async () => {
    fake.force({ kind: 'hang' });
    const login = fake.issueLogin();
    const result = await exchangeRefreshToken(spec(login.refreshToken!, { timeoutMs: 300 }), { now });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.failure.class).toBe('transient');
      expect(result.failure.message).toMatch(/timed out/);
    }
  });

  it('classifies 429 with Retry-After, an HTML challenge, and reuse', async () => {
    const login = fake.issueLogin();
    fake.force({ kind: 'rate-limit', retryAfterSeconds: 42 });
    const limited = await exchangeRefreshToken(spec(login.refreshToken!), { now });
    expect(!limited.ok && limited.failure.class === 'rate_limited' && limited.failure.retryAfterMs).toBe(42_000);
    fake.force({ kind: 'cloudflare-challenge' });
    const challenged = await exchangeRefreshToken(spec(login.refreshToken!), { now });
    expect(!challenged.ok && challenged.failure.class).toBe('transient');
    const first = await exchangeRefreshToken(spec(login.refreshToken!), { now });
    expect(first.ok).toBe(true);
    const reused = await exchangeRefreshToken(spec(login.refreshToken!), { now });
    expect(!reused.ok && reused.failure.class).toBe('reauth_required');
  });

  it('keeps no refresh token in the grant when the endpoint omits it', async () => {
    fake.configure({ omitRefreshToken: true });
    const login = fake.issueLogin();
    const result = await exchangeRefreshToken(spec(login.refreshToken!), { now });
    expect(result.ok && result.grant.refreshToken).toBeUndefined();
    expect(fake.isRefreshTokenValid(login.refreshToken!)).toBe(true);
  });

  it('refuses a malformed 200', async () => {
    fake.force({ kind: 'raw', status: 200, body: '{"token_type":"Bearer"}', contentType: 'application/json' });
    const result = await exchangeRefreshToken(spec('rt-xxxxxxxxxxxx'), { now });
    expect(!result.ok && result.failure.message).toMatch(/access_token is missing/);
  });
});

describe('tokenUrlProblem', () => {
  it.each([
    ['https://platform.claude.com/v1/oauth/token', undefined],
    ['http://127.0.0.1:8080/token', undefined],
    ['http://localhost/token', undefined],
    ['http://[::1]:9/token', undefined],
    ['http://auth.example.invalid/token', 'https'],
    ['http://127.0.0.2.example.invalid/token', 'https'],
    ['ftp://127.0.0.1/token', 'https'],
    ['https://user:pw@host.example.invalid/t', 'credentials'],
    ['not a url', 'absolute'],
  ])('%s', (url, problem) => {
    const result = tokenUrlProblem(url);
    if (problem === undefined) expect(result).toBeUndefined();
    else expect(result).toMatch(new RegExp(problem));
  });

  it('refuses a plain-http non-loopback URL before any request', async () => {
    const result = await exchangeRefreshToken(spec('rt-xxxxxxxxxxxx', { tokenUrls: ['http://auth.example.invalid/token'] }), { now });
    expect(!result.ok && result.failure.message).toMatch(/https/);
    expect(result.attempts).toBe(0);
  });
});
