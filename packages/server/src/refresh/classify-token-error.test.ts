import { describe, expect, it } from 'vitest';
import { classifyTokenError, MAX_RETRY_AFTER_MS, parseRetryAfter, sanitizeDescription, type TokenErrorInput } from './classify-token-error.js';

const json = (status: number, body: unknown, retryAfter?: string): TokenErrorInput => ({
  kind: 'http',
  status,
  contentType: 'application/json',
  body: JSON.stringify(body),
  ...(retryAfter === undefined ? {} : { retryAfter }),
});

const CHALLENGE = '<!DOCTYPE html><html><head><title>Just a moment...</title></head><body></body></html>';

describe('classifyTokenError', () => {
  const cases: Array<[string, TokenErrorInput, string, Record<string, unknown>?]> = [
    ['invalid_grant (reused/revoked refresh token)', json(400, { error: 'invalid_grant', error_description: 'Refresh token not found or invalid' }), 'reauth_required', { oauthError: 'invalid_grant' }],
    ['invalid_client', json(401, { error: 'invalid_client', error_description: 'Client authentication failed' }), 'reauth_required', { oauthError: 'invalid_client' }],
    ['unauthorized_client', json(400, { error: 'unauthorized_client' }), 'reauth_required', { oauthError: 'unauthorized_client' }],
    ['429 with delta Retry-After', json(429, { type: 'error', error: { type: 'rate_limit_error', message: 'Rate limited' } }, '30'), 'rate_limited', { retryAfterMs: 30_000, oauthError: 'rate_limit_error' }],
    ['429 without Retry-After', json(429, {}), 'rate_limited', { retryAfterMs: undefined }],
    ['500', json(500, { type: 'error', error: { type: 'api_error', message: 'Internal server error' } }), 'transient'],
    ['503 empty body', { kind: 'http', status: 503, body: '' }, 'transient'],
    ['403 Cloudflare challenge (content-type)', { kind: 'http', status: 403, contentType: 'text/html; charset=UTF-8', body: CHALLENGE }, 'transient'],
    ['403 challenge without content-type', { kind: 'http', status: 403, body: CHALLENGE }, 'transient'],
    ['HTML 400 is still a WAF page, not drift', { kind: 'http', status: 400, contentType: 'text/html', body: '<html>Invalid request format</html>' }, 'transient'],
    ['400 Invalid request format (OAuth shape)', json(400, { error: 'invalid_request', error_description: 'Invalid request format' }), 'encoding_drift'],
    ['400 Invalid request format (Anthropic shape)', json(400, { type: 'error', error: { type: 'invalid_request_error', message: 'Invalid request format' } }), 'encoding_drift'],
    ['400 invalid_scope', json(400, { error: 'invalid_scope' }), 'scope_drift'],
    ['404 → next URL', json(404, { error: 'not_found' }), 'next_url'],
    ['connection refused → next URL', { kind: 'network', code: 'ECONNREFUSED' }, 'next_url'],
    ['DNS failure → next URL', { kind: 'network', code: 'ENOTFOUND' }, 'next_url'],
    ['connect timeout → next URL', { kind: 'network', code: 'UND_ERR_CONNECT_TIMEOUT' }, 'next_url'],
    ['reset after sending → transient, same URL not retried elsewhere', { kind: 'network', code: 'ECONNRESET' }, 'transient'],
    ['socket closed → transient', { kind: 'network', code: 'UND_ERR_SOCKET' }, 'transient'],
    ['timeout → transient', { kind: 'timeout' }, 'transient'],
    ['302 (redirects are not followed) → transient', { kind: 'http', status: 302, body: '' }, 'transient'],
    ['other 400 → error', json(400, { error: 'invalid_request', error_description: 'Missing grant_type' }), 'error'],
    ['unusable 200 → error', { kind: 'invalid_response', reason: 'access_token is missing or empty' }, 'error'],
  ];

  for (const [name, input, expected, extra] of cases) {
    it(name, () => {
      const result = classifyTokenError(input, 0);
      expect(result.class).toBe(expected);
      for (const [k, v] of Object.entries(extra ?? {})) expect((result as unknown as Record<string, unknown>)[k]).toEqual(v);
      expect(result.message.length).toBeGreaterThan(0);
    });
  }

  it('never echoes a token-like value from the body', () => {
    const leaked = 'sk-ant-ort01-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789';
    const result = classifyTokenError(json(400, { error: 'invalid_grant', error_description: `token ${leaked} was revoked` }), 0);
    expect(result.class).toBe('reauth_required');
    expect(result.message).not.toContain(leaked);
    expect(result.message).not.toContain('AbCdEfGhIjKlMnOpQrSt');
    expect(result.message).toContain('invalid_grant');
  });

  it('drops an error code that is not an identifier', () => {
    const result = classifyTokenError(json(400, { error: 'sk-ant-oat01 with spaces and junk!' }), 0);
    expect(result.oauthError).toBeUndefined();
    expect(result.message).not.toContain('junk');
  });

  it('does not quote an HTML body', () => {
    const result = classifyTokenError({ kind: 'http', status: 403, contentType: 'text/html', body: '<html>secret-page-content</html>' }, 0);
    expect(result.message).not.toContain('secret-page-content');
  });
});

describe('parseRetryAfter', () => {
  it.each([
    ['0', 0],
    ['120', 120_000],
    [' 7 ', 7_000],
  ])('delta seconds %s', (value, ms) => expect(parseRetryAfter(value, 0)).toBe(ms));

  it('reads an HTTP date relative to now', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:01:30 GMT', now)).toBe(90_000);
  });

  it('clamps a past date to 0 and a huge value to the cap', () => {
    expect(parseRetryAfter('Thu, 01 Jan 1970 00:00:00 GMT', 1_000_000)).toBe(0);
    expect(parseRetryAfter('999999999', 0)).toBe(MAX_RETRY_AFTER_MS);
  });

  it.each([undefined, '', 'soon', '-5'])('ignores %s', (value) => expect(parseRetryAfter(value, 0)).toBeUndefined());
});

describe('sanitizeDescription', () => {
  it('removes control characters and long runs and truncates', () => {
    const out = sanitizeDescription(`a\nb\u0000c ${'x'.repeat(30)} ${'word '.repeat(60)}`);
    expect(out).not.toMatch(/[\u0000-\u001f]/);
    expect(out).not.toContain('x'.repeat(30));
    expect(out.length).toBeLessThanOrEqual(160);
  });
});
