// The floor of a Node proxy: node:http server + undici Pool, doing only the job (strip client
// auth, set the bearer, merge the beta) with no checks, no logging and no body holding. Shows how
// much of the boundary's cost per request is Node's own HTTP machinery.
import http from 'node:http';
import { Pool } from 'undici';

const STRIP = new Set(['authorization', 'x-api-key', 'proxy-authorization', 'host', 'connection', 'keep-alive', 'content-length', 'transfer-encoding']);

export async function startNodeFloor({ upstreamUrl, token }) {
  const pool = new Pool(upstreamUrl, { pipelining: 1, keepAliveTimeout: 30_000 });
  const bearer = `Bearer ${token}`;
  const server = http.createServer((req, res) => {
    const headers = [];
    let beta = '';
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const lower = raw[i].toLowerCase();
      if (STRIP.has(lower)) continue;
      if (lower === 'anthropic-beta') beta = raw[i + 1];
      else headers.push(lower, raw[i + 1]);
    }
    headers.push('anthropic-beta', beta.includes('oauth-2025-04-20') ? beta : beta ? `${beta},oauth-2025-04-20` : 'oauth-2025-04-20', 'authorization', bearer);
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      pool.dispatch(
        { path: req.url.startsWith('http') ? new URL(req.url).pathname : req.url, method: req.method, headers, body },
        {
          onRequestStart() {},
          onResponseStart(controller, status) {
            const out = [];
            const rawRes = controller.rawHeaders ?? [];
            for (let i = 0; i < rawRes.length; i += 2) {
              const name = rawRes[i].toString('latin1');
              const lower = name.toLowerCase();
              if (lower === 'connection' || lower === 'keep-alive' || lower === 'transfer-encoding') continue;
              out.push(name, rawRes[i + 1].toString('latin1'));
            }
            res.writeHead(status, out);
          },
          onResponseData(_c, chunk) {
            res.write(chunk);
          },
          onResponseEnd() {
            res.end();
          },
          onResponseError(_c, err) {
            if (!res.headersSent) res.writeHead(502);
            res.end(String(err?.code ?? 'error'));
          },
        },
      );
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await pool.close();
    },
  };
}
