import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Forwarder, createForwarder } from './forwarder.js';
import { claudeCodeBody } from './testing-fixtures/claude-code-body.js';
import { TEST_OAUTH_TOKEN, linesOf, namesOf, oauthRoute, openaiRoute } from './testing-fixtures/routes.js';
import { type TestServer, rawRequest, send, sha256, startRouter, startUpstream } from './testing-fixtures/servers.js';

let upstream: TestServer;
let forwarder: Forwarder;
let router: Awaited<ReturnType<typeof startRouter>>;
let route = oauthRoute('http://127.0.0.1:1/v1');

// Every behaviour is proven for both upstream transports (ForwarderSettings.transport).
const TRANSPORTS = ['undici', 'h1'] as const;

describe.each(TRANSPORTS)('transport %s', (transport) => {
  beforeAll(async () => {
    upstream = await startUpstream((req, res) => {
      if (req.url?.startsWith('/v1/status-429')) {
        const text = '{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}';
        res.writeHead(429, 'Too Many Requests Here', [
          'content-type',
          'application/json',
          'content-length',
          String(text.length),
          'retry-after',
          '17',
          'anthropic-ratelimit-unified-status',
          'rejected',
          'set-cookie',
          'a=1',
          'set-cookie',
          'b=2',
          'request-id',
          'req_429',
          'connection',
          'keep-alive',
        ]);
        res.end(text);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'request-id': 'req_ok' });
      res.end('{"ok":true}');
    });
    forwarder = createForwarder({ maxRequestBodyBytes: 512 * 1024, transport });
    router = await startRouter(forwarder, () => route);
    route = oauthRoute(`${upstream.url}/v1`, { model: 'claude-sonnet-4-6' });
  });

  afterEach(() => {
    upstream.requests.length = 0;
    router.results.length = 0;
  });

  afterAll(async () => {
    await router.close();
    await forwarder.close();
    await upstream.close();
  });

  function rawPost(path: string, headerLines: string[], body: string): string {
    return [`POST ${path} HTTP/1.1`, 'Host: inference.local', ...headerLines, `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close', '', body].join('\r\n');
  }

  describe('forward: header rules on the wire', () => {
    it('strips every client credential in every case and sends one route bearer, one merged anthropic-beta', async () => {
      const res = await rawRequest(
        router.port,
        rawPost(
          '/v1/messages?beta=true',
          [
            'Authorization: Bearer client-token',
            'AUTHORIZATION: Bearer second',
            'X-Api-Key: client-key',
            'x-API-key: another',
            'Proxy-Authorization: Basic eDp5',
            'anthropic-beta: claude-code-20250219,interleaved-thinking-2025-05-14',
            'Anthropic-Beta: context-management-2025-06-27',
            'anthropic-version: 2023-06-01',
            'X-Stainless-Lang: js',
            'x-app: cli',
            'Cookie: secret=1',
            'X-Forwarded-For: 10.0.0.1',
            'Content-Type: application/json',
          ],
          '{"model":"claude-opus-4","max_tokens":1}',
        ),
      );
      expect(res.status).toBe(200);
      const got = upstream.requests[0]!;
      const h = got.rawHeaders;
      expect(linesOf(h, 'authorization')).toEqual([`Bearer ${TEST_OAUTH_TOKEN}`]);
      expect(linesOf(h, 'x-api-key')).toEqual([]);
      expect(linesOf(h, 'proxy-authorization')).toEqual([]);
      expect(linesOf(h, 'anthropic-beta')).toEqual(['claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,oauth-2025-04-20']);
      expect(linesOf(h, 'x-stainless-lang')).toEqual(['js']);
      expect(linesOf(h, 'x-app')).toEqual(['cli']);
      expect(linesOf(h, 'cookie')).toEqual([]);
      expect(linesOf(h, 'x-forwarded-for')).toEqual([]);
      expect(linesOf(h, 'host')).toEqual([`127.0.0.1:${upstream.port}`]);
      const names = namesOf(h);
      expect(new Set(names).size).toBe(names.length);
      // query preserved, /v1 not doubled, model pinned
      expect(got.url).toBe('/v1/messages?beta=true');
      expect(got.body.toString()).toBe('{"model":"claude-sonnet-4-6","max_tokens":1}');
      expect(linesOf(h, 'content-length')).toEqual([String(got.body.length)]);
    });

    it('refuses a header value with CR/LF before anything is sent upstream (our check)', async () => {
      const injecting = await startRouter(forwarder, () => route, {
        // Node's own parser refuses CR/LF on the wire; a supervisor parsing its own tunnel might not,
        // so inject the value after parsing to exercise the router's check.
        onRequest: (req) => req.rawHeaders.push('anthropic-beta', 'x\r\nX-Injected: 1'),
      });
      try {
        const res = await send(injecting.url, { path: '/v1/messages', headers: { 'content-type': 'application/json' }, body: '{}' });
        expect(res.status).toBe(400);
        expect(JSON.parse(res.body.toString())).toEqual({
          type: 'error',
          error: { type: 'invalid_request_error', message: expect.stringContaining('invalid_header_value') },
        });
        expect(upstream.requests).toHaveLength(0);
      } finally {
        await injecting.close();
      }
    });

    it('a CR/LF or NUL smuggled on the wire never reaches the upstream', async () => {
      for (const line of ['X-App: a\rb', 'X-App: a\0b']) {
        const res = await rawRequest(router.port, rawPost('/v1/messages', [line], '{}'));
        expect(res.status).toBe(400);
      }
      expect(upstream.requests).toHaveLength(0);
    });

    it('a request smuggled inside a body stays body bytes: the upstream sees exactly one request', async () => {
      const smuggled = 'GET /v1/models HTTP/1.1\r\nHost: api.anthropic.com\r\nAuthorization: Bearer stolen\r\n\r\n';
      const res = await rawRequest(router.port, rawPost('/v1/messages', ['Content-Type: text/plain'], smuggled));
      expect(res.status).toBe(200);
      expect(upstream.requests).toHaveLength(1);
      expect(upstream.requests[0]!.body.toString()).toBe(smuggled);
    });

    it('conflicting framing (Content-Length with Transfer-Encoding) never reaches the upstream', async () => {
      const res = await rawRequest(
        router.port,
        'POST /v1/messages HTTP/1.1\r\nHost: inference.local\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n',
      );
      expect(res.status).toBe(400);
      expect(upstream.requests).toHaveLength(0);
    });

    it('passes the OpenAI organization header and x-stainless-* on an openai route, strips the rest', async () => {
      const r = openaiRoute(`${upstream.url}/v1`);
      const res = await forwardOnce(r, {
        path: '/v1/chat/completions',
        headers: { 'openai-organization': 'org-1', 'x-stainless-arch': 'x64', authorization: 'Bearer sk-client', 'x-other': '1' },
        body: '{"model":"gpt-4o","messages":[]}',
      });
      expect(res.status).toBe(200);
      const h = upstream.requests[0]!.rawHeaders;
      expect(linesOf(h, 'openai-organization')).toEqual(['org-1']);
      expect(linesOf(h, 'x-stainless-arch')).toEqual(['x64']);
      expect(linesOf(h, 'x-other')).toEqual([]);
      expect(linesOf(h, 'authorization')).toEqual(['Bearer sk-test-openai-TEST-ONLY-abcdef0123456789']);
    });
  });

  async function forwardOnce(r: ReturnType<typeof oauthRoute>, opts: Parameters<typeof send>[1]) {
    const server = await startRouter(forwarder, () => r);
    try {
      return await send(server.url, opts);
    } finally {
      await server.close();
    }
  }

  describe('forward: body and response fidelity', () => {
    it('forwards a ~200 KB Claude-Code-like body byte-for-byte except the pinned model (sha256)', async () => {
      const body = claudeCodeBody('claude-opus-4-1-20250805');
      expect(body.text.length).toBeGreaterThan(200 * 1024);
      const res = await send(router.url, { path: '/v1/messages?beta=true', headers: { 'content-type': 'application/json' }, body: body.text });
      expect(res.status).toBe(200);
      const got = upstream.requests[0]!.body;
      const expected = body.expectedWithModel('claude-sonnet-4-6');
      expect(sha256(got)).toBe(sha256(expected));
      expect(got.length).toBe(Buffer.byteLength(expected));
    });

    it('forwards the body untouched when the route pins no model', async () => {
      const body = claudeCodeBody('claude-opus-4-1-20250805');
      const r = oauthRoute(`${upstream.url}/v1`);
      const res = await forwardOnce(r, { path: '/v1/messages', headers: { 'content-type': 'application/json' }, body: body.text });
      expect(res.status).toBe(200);
      expect(sha256(upstream.requests[0]!.body)).toBe(sha256(body.text));
    });

    it('forwards non-JSON bodies untouched', async () => {
      const res = await send(router.url, { path: '/v1/messages', headers: { 'content-type': 'text/plain' }, body: 'model: "x"' });
      expect(res.status).toBe(200);
      expect(upstream.requests[0]!.body.toString()).toBe('model: "x"');
    });

    it('relays upstream status, reason, headers (minus hop-by-hop) and body unmodified', async () => {
      const r = oauthRoute(`${upstream.url}/v1/status-429`);
      const got = await forwardOnce(r, { path: '/v1/models', method: 'GET' });
      expect(got.status).toBe(429);
      expect(got.statusText).toBe('Too Many Requests Here');
      expect(got.body.toString()).toBe('{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}');
      expect(linesOf(got.rawHeaders as string[], 'retry-after')).toEqual(['17']);
      expect(linesOf(got.rawHeaders as string[], 'set-cookie')).toEqual(['a=1', 'b=2']);
      expect(linesOf(got.rawHeaders as string[], 'anthropic-ratelimit-unified-status')).toEqual(['rejected']);
      expect(linesOf(got.rawHeaders as string[], 'request-id')).toEqual(['req_429']);
      expect(linesOf(got.rawHeaders as string[], 'content-length')).toEqual([String(got.body.length)]);
      expect(linesOf(got.rawHeaders as string[], 'transfer-encoding')).toEqual([]);
      expect(upstream.requests.at(-1)!.url).toBe('/v1/status-429/models');
    });

    it('reuses one pooled keep-alive connection for sequential requests', async () => {
      const before = upstream.connections;
      for (let i = 0; i < 3; i++) {
        const res = await send(router.url, { path: '/v1/messages/count_tokens', headers: { 'content-type': 'application/json' }, body: '{"model":"m"}' });
        expect(res.status).toBe(200);
      }
      expect(upstream.connections - before).toBeLessThanOrEqual(1);
      expect(upstream.requests.map((r) => r.url)).toEqual(Array(3).fill('/v1/messages/count_tokens'));
    });
  });

  describe('forward: own errors in the protocol shape', () => {
    it('413 beyond the body bound (declared length), nothing sent upstream', async () => {
      const res = await send(router.url, { path: '/v1/messages', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(600 * 1024) });
      expect(res.status).toBe(413);
      expect(JSON.parse(res.body.toString()).error.type).toBe('request_too_large');
      expect(upstream.requests).toHaveLength(0);
    });

    it('413 beyond the body bound (chunked, no declared length)', async () => {
      const chunk = 'y'.repeat(64 * 1024);
      const chunks = Array.from({ length: 10 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join('');
      const res = await rawRequest(
        router.port,
        `POST /v1/messages HTTP/1.1\r\nHost: inference.local\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n${chunks}0\r\n\r\n`,
      );
      expect(res.status).toBe(413);
      expect(upstream.requests).toHaveLength(0);
    });

    it('404 for a path that is no inference API, 400 for a protocol the route does not serve', async () => {
      const a = await send(router.url, { path: '/admin', method: 'GET' });
      expect(a.status).toBe(404);
      expect(JSON.parse(a.body.toString()).type).toBe('error');
      const b = await send(router.url, { path: '/v1/chat/completions', body: '{}' });
      expect(b.status).toBe(400);
      expect(JSON.parse(b.body.toString())).toEqual({
        type: 'error',
        error: { type: 'invalid_request_error', message: expect.stringContaining('protocol_not_routed') },
      });
      expect(b.headers['x-openshell-error']).toBe('protocol_not_routed');
      expect(upstream.requests).toHaveLength(0);
    });

    it('OpenAI-shaped errors on an OpenAI route', async () => {
      const r = openaiRoute(`${upstream.url}/v1`);
      const res = await forwardOnce(r, { path: '/v1/messages', body: '{}' });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body.toString())).toEqual({
        error: { message: expect.stringContaining('does not serve anthropic_messages'), type: 'invalid_request_error', param: null, code: 'protocol_not_routed' },
      });
    });

    it('rejects dot segments in a model-discovery path', async () => {
      const res = await rawRequest(router.port, 'GET /v1/models/../../admin HTTP/1.1\r\nHost: inference.local\r\nConnection: close\r\n\r\n');
      expect(res.status).toBe(400);
      expect(res.body).toContain('invalid_request_target');
      expect(upstream.requests).toHaveLength(0);
    });

    it('accepts absolute-form targets (plain-HTTP proxy requests)', async () => {
      const res = await rawRequest(router.port, rawPost('http://inference.local/v1/messages?beta=true', ['Content-Type: application/json'], '{}'));
      expect(res.status).toBe(200);
      expect(upstream.requests[0]!.url).toBe('/v1/messages?beta=true');
    });
  });
});
