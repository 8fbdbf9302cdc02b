// The fake model API every benchmark scenario talks to: a Messages-shaped JSON answer of about 1 KB,
// or an SSE stream of N events spaced by a fixed interval. Kept minimal so it is never the bottleneck.
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';

/** Wall-clock milliseconds with sub-millisecond resolution (comparable across processes). */
export const wallMs = () => performance.timeOrigin + performance.now();

const ANSWER = Buffer.from(
  JSON.stringify({
    id: 'msg_bench',
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-6',
    content: [{ type: 'text', text: 'x'.repeat(820) }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 512, output_tokens: 200 },
  }),
);

const STREAM_FLAG = Buffer.from('"stream":true');

/**
 * Starts the upstream on 127.0.0.1; `expectedToken` lets a run check that proxies injected auth.
 * A body with `"stream":true` (or `?stream=1`) gets the SSE answer; each event carries `t`, the
 * upstream's wall clock in ms when it was written. `tls: {cert, key}` serves https instead.
 */
export async function startUpstream({ expectedToken, sseEvents = 500, sseIntervalMs = 1, tls } = {}) {
  const stats = { requests: 0, badAuth: 0, badBeta: 0, streams: 0 };
  const handler = (req, res) => {
    stats.requests++;
    if (expectedToken && req.headers.authorization !== `Bearer ${expectedToken}`) stats.badAuth++;
    const beta = req.headers['anthropic-beta'];
    if (expectedToken && (typeof beta !== 'string' || !beta.includes('oauth-2025-04-20'))) stats.badBeta++;
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      if (req.url?.includes('stream=1') || body.includes(STREAM_FLAG)) {
        stats.streams++;
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        let n = 0;
        const timer = setInterval(() => {
          n++;
          res.write(`event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"seq":${n},"t":${wallMs()}}\n\n`);
          if (n >= sseEvents) {
            clearInterval(timer);
            res.end('event: message_stop\ndata: {"type":"message_stop"}\n\n');
          }
        }, sseIntervalMs);
        res.on('close', () => clearInterval(timer));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': ANSWER.length });
      res.end(ANSWER);
    });
  };
  const server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, handler) : createServer(handler);
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    port,
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    stats,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

/** A Messages-shaped request body of about 2 KB, shaped like Claude Code's. */
export const REQUEST_BODY = JSON.stringify({
  model: 'claude-sonnet-4-6',
  max_tokens: 1024,
  system: [
    { type: 'text', text: 'x-anthropic-billing-header: cc_version=2.1.328; cc_entrypoint=cli; cch=00000;' },
    { type: 'text', text: "You are a Claude agent, built on Anthropic's Claude Agent SDK." },
  ],
  messages: [{ role: 'user', content: 'y'.repeat(1650) }],
});

/** The same body asking for a streamed answer. */
export const STREAM_REQUEST_BODY = JSON.stringify({ ...JSON.parse(REQUEST_BODY), stream: true });
