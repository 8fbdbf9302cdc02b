import { request as httpRequest } from 'node:http';
import type { BundleRoute } from '@openshell/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Forwarder, createForwarder } from './forwarder.js';
import { TEST_API_KEY, TEST_OAUTH_TOKEN, oauthRoute, openaiRoute } from './testing-fixtures/routes.js';
import { type TestServer, closedPort, send, startRouter, startSilentTcp, startUpstream, withTimeout } from './testing-fixtures/servers.js';

// Short timeouts so the tests run quickly; no assertion is about how long anything took.
const SHORT = { connectMs: 200, firstByteMs: 200, idleMs: 200 };

let upstream: TestServer;
let forwarder: Forwarder;

// Every behaviour is proven for both upstream transports (ForwarderSettings.transport).
const TRANSPORTS = ['undici', 'h1'] as const;

describe.each(TRANSPORTS)('transport %s', (transport) => {
  beforeAll(async () => {
    upstream = await startUpstream((req, res) => {
      const mode = new URL(req.url ?? '/', 'http://x').searchParams.get('mode');
      if (mode === 'no-answer') return; // accept the request, never answer
      if (mode === 'stall-sse') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('event: message_start\ndata: {"type":"message_start"}\n\n');
        return; // then silence
      }
      if (mode === 'stall-json') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
        res.write('{"partial":');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
    forwarder = createForwarder({ transport });
  });

  afterAll(async () => {
    await forwarder.close();
    await upstream.close();
  });

  async function call(route: BundleRoute, path: string, body = '{"stream":false}') {
    const router = await startRouter(forwarder, () => route);
    try {
      return await send(router.url, { path, headers: { 'content-type': 'application/json' }, body });
    } finally {
      await router.close();
    }
  }

  function expectNoSecret(text: string) {
    expect(text).not.toContain(TEST_OAUTH_TOKEN);
    expect(text).not.toContain(TEST_API_KEY);
  }

  describe('timeouts and transport failures produce the documented error shape', () => {
    it('connect timeout (TLS handshake never completes) → 504 timeout_error / upstream_connect_timeout', async () => {
      const silent = await startSilentTcp();
      try {
        const route = oauthRoute(`https://127.0.0.1:${silent.port}/v1`, { timeouts: SHORT });
        const res = await call(route, '/v1/messages?mode=x');
        expect(res.status).toBe(504);
        expect(res.headers['x-openshell-error']).toBe('upstream_connect_timeout');
        expect(JSON.parse(res.body.toString())).toEqual({
          type: 'error',
          error: { type: 'timeout_error', message: expect.stringContaining('within 200 ms (connect timeout)') },
        });
        expectNoSecret(res.body.toString());
      } finally {
        await silent.close();
      }
    });

    it('first-byte timeout → 504 timeout_error / upstream_first_byte_timeout', async () => {
      const route = oauthRoute(`${upstream.url}/v1`, { timeouts: SHORT });
      const res = await call(route, '/v1/messages?mode=no-answer');
      expect(res.status).toBe(504);
      expect(res.headers['x-openshell-error']).toBe('upstream_first_byte_timeout');
      expect(JSON.parse(res.body.toString())).toEqual({
        type: 'error',
        error: { type: 'timeout_error', message: expect.stringContaining('first-byte timeout') },
      });
      expectNoSecret(res.body.toString());
    });

    it('first-byte timeout on an OpenAI route → OpenAI error shape', async () => {
      const route = openaiRoute(`${upstream.url}/v1`, { timeouts: SHORT });
      const res = await call(route, '/v1/chat/completions?mode=no-answer');
      expect(res.status).toBe(504);
      expect(JSON.parse(res.body.toString())).toEqual({
        error: { message: expect.stringContaining('first-byte timeout'), type: 'server_error', param: null, code: 'upstream_first_byte_timeout' },
      });
      expectNoSecret(res.body.toString());
    });

    it('idle timeout mid-SSE → the stream ends with an Anthropic `event: error` frame', async () => {
      const route = oauthRoute(`${upstream.url}/v1`, { timeouts: SHORT });
      const res = await call(route, '/v1/messages?mode=stall-sse', '{"stream":true}');
      expect(res.status).toBe(200);
      const text = res.body.toString();
      expect(text.startsWith('event: message_start\n')).toBe(true);
      const frame = /event: error\ndata: (.*)\n\n$/.exec(text);
      expect(JSON.parse(frame?.[1] ?? 'null')).toEqual({
        type: 'error',
        error: { type: 'timeout_error', message: expect.stringContaining('upstream_idle_timeout') },
      });
      expectNoSecret(text);
    });

    it('idle timeout mid-JSON → the connection is cut, so the client sees a truncated response', async () => {
      const route = oauthRoute(`${upstream.url}/v1`, { timeouts: SHORT });
      const router = await startRouter(forwarder, () => route);
      try {
        const outcome = await withTimeout(
          new Promise<string>((resolve) => {
            const req = httpRequest(new URL('/v1/messages?mode=stall-json', router.url), { method: 'POST', agent: false }, (res) => {
              expect(res.statusCode).toBe(200);
              res.on('data', () => {});
              res.on('end', () => resolve('complete'));
              res.on('error', () => resolve('truncated'));
              res.on('aborted', () => resolve('truncated'));
            });
            req.on('error', () => resolve('truncated'));
            req.end('{}');
          }),
          10_000,
          'truncated response',
        );
        expect(outcome).toBe('truncated');
        const result = await router.waitForResult((r) => r.error !== undefined);
        expect(result.error?.code).toBe('upstream_idle_timeout');
      } finally {
        await router.close();
      }
    });

    it('connection refused → 502 api_error / upstream_connect_failed', async () => {
      const port = await closedPort();
      const route = oauthRoute(`http://127.0.0.1:${port}/v1`, { timeouts: SHORT });
      const res = await call(route, '/v1/messages');
      expect(res.status).toBe(502);
      expect(JSON.parse(res.body.toString())).toEqual({
        type: 'error',
        error: { type: 'api_error', message: expect.stringContaining('upstream_connect_failed') },
      });
    });

    it('a healthy upstream after all this still answers through the same forwarder', async () => {
      const route = oauthRoute(`${upstream.url}/v1`, { timeouts: SHORT });
      const router = await startRouter(forwarder, () => route);
      try {
        const res = await send(router.url, { path: '/v1/messages', body: '{}' });
        expect(res.status).toBe(200);
      } finally {
        await router.close();
      }
    });
  });
});
