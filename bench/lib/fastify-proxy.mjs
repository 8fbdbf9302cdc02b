// @fastify/http-proxy doing the same job as the boundary: strip client auth, set the bearer, merge the beta.
import httpProxy from '@fastify/http-proxy';
import Fastify from 'fastify';

/** `tls: {cert, key}` makes it terminate TLS itself (the CONNECT + TLS comparison). */
export async function startFastifyProxy({ upstreamUrl, token, tls }) {
  const app = Fastify({ logger: false, bodyLimit: 10 * 1024 * 1024, ...(tls ? { https: { cert: tls.cert, key: tls.key } } : {}) });
  // Forward bodies untouched, like the boundary does.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
  await app.register(httpProxy, {
    upstream: upstreamUrl,
    http: { agentOptions: { keepAlive: true, maxSockets: 256 } },
    replyOptions: {
      rewriteRequestHeaders: (_req, headers) => {
        const out = { ...headers };
        delete out['x-api-key'];
        delete out['proxy-authorization'];
        out.authorization = `Bearer ${token}`;
        const beta = typeof out['anthropic-beta'] === 'string' ? out['anthropic-beta'] : '';
        const list = beta.split(',').map((s) => s.trim()).filter(Boolean);
        if (!list.some((b) => b.toLowerCase() === 'oauth-2025-04-20')) list.push('oauth-2025-04-20');
        out['anthropic-beta'] = list.join(',');
        return out;
      },
    },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address();
  return { port, url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`, close: () => app.close() };
}
