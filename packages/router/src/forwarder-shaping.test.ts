import type { BundleRoute } from '@openshell/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RouterError } from './errors.js';
import { type Forwarder, createForwarder } from './forwarder.js';
import { TEST_OAUTH_TOKEN, linesOf, oauthRoute } from './testing-fixtures/routes.js';
import { type TestServer, closedPort, send, startRouter, startUpstream } from './testing-fixtures/servers.js';
import { VERTEX_ANTHROPIC_VERSION } from './vertex.js';

let upstream: TestServer;
let forwarder: Forwarder;

// Every behaviour is proven for both upstream transports (ForwarderSettings.transport).
const TRANSPORTS = ['undici', 'h1'] as const;

describe.each(TRANSPORTS)('transport %s', (transport) => {
  beforeAll(async () => {
    upstream = await startUpstream((req, res) => {
      if (req.url?.includes('big')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(Buffer.alloc(4096, 0x62));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"id":"msg_probe","type":"message"}');
    });
    forwarder = createForwarder({ transport });
  });

  afterEach(() => {
    upstream.requests.length = 0;
  });

  afterAll(async () => {
    await forwarder.close();
    await upstream.close();
  });

  const VERTEX_BASE = '/v1/projects/p-1/locations/us-east5/publishers/anthropic/models';

  function vertexRoute(): BundleRoute {
    return oauthRoute(`${upstream.url}${VERTEX_BASE}`, {
      providerName: 'vertex',
      providerType: 'google-vertex-ai',
      protocols: ['anthropic_messages', 'model_discovery'],
      model: 'claude-sonnet-4@20250514',
      modelInPath: true,
      headerPolicy: { required: [], defaults: {}, passthrough: ['anthropic-beta', 'anthropic-version'] },
      requestPathOverride: ':rawPredict',
      credential: { fingerprint: 'fp-vertex', refreshable: true },
    });
  }

  describe('Anthropic on Vertex AI', () => {
    it.each([
      [true, ':streamRawPredict'],
      [false, ':rawPredict'],
    ])('stream=%s: model in the path (%s), body shaped, Anthropic headers dropped', async (stream, suffix) => {
      const route = vertexRoute();
      const router = await startRouter(forwarder, () => route);
      try {
        const body = `{"model":"claude-opus-4","max_tokens":8,"context_management":{"edits":[]},"messages":[{"role":"user","content":"hi"}],"stream":${stream}}`;
        const res = await send(router.url, {
          path: '/v1/messages?beta=true',
          headers: { 'content-type': 'application/json', 'anthropic-beta': 'context-management-2025-06-27', 'anthropic-version': '2023-06-01' },
          body,
        });
        expect(res.status).toBe(200);
        const got = upstream.requests[0]!;
        expect(got.url).toBe(`${VERTEX_BASE}/claude-sonnet-4@20250514${suffix}`);
        expect(JSON.parse(got.body.toString())).toEqual({
          anthropic_version: VERTEX_ANTHROPIC_VERSION,
          max_tokens: 8,
          messages: [{ role: 'user', content: 'hi' }],
          stream,
        });
        expect(linesOf(got.rawHeaders, 'anthropic-beta')).toEqual([]);
        expect(linesOf(got.rawHeaders, 'anthropic-version')).toEqual([]);
        expect(linesOf(got.rawHeaders, 'authorization')).toEqual([`Bearer ${TEST_OAUTH_TOKEN}`]);
      } finally {
        await router.close();
      }
    });
  });

  describe('Bedrock invoke', () => {
    it('replaces the model id in the path, leaves the body alone, sends no auth header (style none)', async () => {
      const route = oauthRoute(`${upstream.url}`, {
        providerName: 'bedrock',
        providerType: 'aws-bedrock',
        protocols: ['aws_bedrock_invoke'],
        model: 'anthropic.claude-3-5-sonnet-20241022-v2:0',
        auth: { style: 'none', value: '' },
        headerPolicy: { required: [], defaults: {}, passthrough: [] },
        credential: { fingerprint: 'none', refreshable: false },
      });
      const router = await startRouter(forwarder, () => route);
      try {
        const body = '{"anthropic_version":"bedrock-2023-05-31","model":"keep-me","max_tokens":1,"messages":[]}';
        const res = await send(router.url, {
          path: '/model/client.choice-v1:0/invoke',
          headers: { 'content-type': 'application/json', authorization: 'Bearer client' },
          body,
        });
        expect(res.status).toBe(200);
        const got = upstream.requests[0]!;
        expect(got.url).toBe('/model/anthropic.claude-3-5-sonnet-20241022-v2:0/invoke');
        expect(got.body.toString()).toBe(body);
        expect(linesOf(got.rawHeaders, 'authorization')).toEqual([]);
      } finally {
        await router.close();
      }
    });
  });

  describe('forwarder.request (verification probes)', () => {
    it('applies the same policy and returns the buffered answer', async () => {
      const route = oauthRoute(`${upstream.url}/v1`, { model: 'claude-sonnet-4-6' });
      const res = await forwarder.request(route, {
        method: 'POST',
        target: '/v1/messages',
        headers: { 'content-type': 'application/json' },
        body: '{"model":"probe","max_tokens":1,"messages":[{"role":"user","content":"ping"}]}',
      });
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe('{"id":"msg_probe","type":"message"}');
      const got = upstream.requests[0]!;
      expect(linesOf(got.rawHeaders, 'anthropic-beta')).toEqual(['oauth-2025-04-20']);
      expect(linesOf(got.rawHeaders, 'anthropic-version')).toEqual(['2023-06-01']);
      expect(JSON.parse(got.body.toString()).model).toBe('claude-sonnet-4-6');
    });

    it('bounds the response it buffers', async () => {
      const route = oauthRoute(`${upstream.url}/big`);
      const err = await forwarder.request(route, { method: 'GET', target: '/v1/models', maxResponseBytes: 1024 }).catch((e: unknown) => e);
      expect(RouterError.isRouterError(err) && err.code).toBe('upstream_response_too_large');
    });

    it('throws a RouterError for transport failures', async () => {
      const route = oauthRoute(`http://127.0.0.1:${await closedPort()}/v1`);
      const err = await forwarder.request(route, { method: 'GET', target: '/v1/models' }).catch((e: unknown) => e);
      expect(RouterError.isRouterError(err) && err.code).toBe('upstream_connect_failed');
      expect(String((err as Error).message)).not.toContain(TEST_OAUTH_TOKEN);
    });
  });
});
