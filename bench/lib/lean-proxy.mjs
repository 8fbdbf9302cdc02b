// PROTOTYPE, bench only: how fast a Node proxy can be when it skips node:http and undici on the hot
// path — a raw net.Server reading absolute-URI keep-alive requests, a raw upstream socket pool, and
// minimal HTTP/1.1 framing (Content-Length bodies only; anything else is refused with 501). Same job
// as the others: check Proxy-Authorization, strip client auth, set the bearer, merge the beta, relay.
// It exists to measure the design's ceiling (see RESULTS.md), not as production code: a real one
// needs a strict parser (llhttp-grade), chunked framing, timeouts and the router's full header policy.
import net from 'node:net';

const CRLF2 = Buffer.from('\r\n\r\n');
const STRIP = new Set(['authorization', 'x-api-key', 'proxy-authorization', 'host', 'connection', 'keep-alive', 'content-length', 'transfer-encoding', 'proxy-connection', 'te', 'trailer', 'upgrade', 'expect']);
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'te', 'trailer', 'upgrade']);

export async function startLeanProxy({ upstreamPort, token, proxyAuthorization }) {
  const idle = [];
  const upstreamHost = `127.0.0.1:${upstreamPort}`;
  const tail = `authorization: Bearer ${token}\r\n`;

  function upstreamSocket() {
    const s = idle.pop();
    if (s !== undefined && !s.destroyed) return s;
    const fresh = net.connect(upstreamPort, '127.0.0.1');
    fresh.setNoDelay(true);
    fresh.on('error', () => fresh.destroy());
    return fresh;
  }

  /** Relays one upstream response to `client`; calls done() when complete. */
  function relay(up, client, done) {
    let buf = null;
    let remaining = -1;
    const onData = (d) => {
      if (remaining === -1) {
        buf = buf === null ? d : Buffer.concat([buf, d]);
        const end = buf.indexOf(CRLF2);
        if (end === -1) return;
        const lines = buf.latin1Slice(0, end).split('\r\n');
        let out = `${lines[0]}\r\n`;
        let length = -1;
        for (let i = 1; i < lines.length; i++) {
          const line = lines[i];
          const colon = line.indexOf(':');
          const lower = line.slice(0, colon).toLowerCase();
          if (lower === 'content-length') length = Number(line.slice(colon + 1).trim());
          if (HOP.has(lower)) continue;
          out += `${line}\r\n`;
        }
        if (length < 0) {
          up.destroy();
          client.destroy();
          return;
        }
        const body = buf.subarray(end + 4);
        remaining = length - body.length;
        client.cork();
        client.write(`${out}\r\n`, 'latin1');
        if (body.length > 0) client.write(body);
        client.uncork();
      } else {
        remaining -= d.length;
        client.write(d);
      }
      if (remaining <= 0) {
        up.off('data', onData);
        up.off('close', onClose);
        done(up);
      }
    };
    const onClose = () => client.destroy();
    up.on('data', onData);
    up.once('close', onClose);
  }

  const server = net.createServer((client) => {
    client.setNoDelay(true);
    client.on('error', () => client.destroy());
    let buf = null;
    let busy = false;
    const next = () => {
      if (busy || buf === null) return;
      const end = buf.indexOf(CRLF2);
      if (end === -1) return;
      const lines = buf.latin1Slice(0, end).split('\r\n');
      const [method, target] = lines[0].split(' ');
      let head = '';
      let length = 0;
      let beta = '';
      let auth = '';
      for (let i = 1; i < lines.length; i++) {
        const line = lines[i];
        const colon = line.indexOf(':');
        const lower = line.slice(0, colon).toLowerCase();
        const value = line.slice(colon + 1).trim();
        if (lower === 'content-length') length = Number(value);
        else if (lower === 'proxy-authorization') auth = value;
        else if (lower === 'anthropic-beta') beta = value;
        else if (lower === 'transfer-encoding') length = Number.NaN;
        if (STRIP.has(lower) || lower === 'anthropic-beta') continue;
        head += `${lower}: ${value}\r\n`;
      }
      if (auth !== proxyAuthorization) {
        client.end('HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
        return;
      }
      if (!Number.isFinite(length) || !target.startsWith('http://inference.local/')) {
        client.end('HTTP/1.1 501 Not Implemented\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
        return;
      }
      if (buf.length < end + 4 + length) return;
      const body = buf.subarray(end + 4, end + 4 + length);
      buf = buf.length === end + 4 + length ? null : buf.subarray(end + 4 + length);
      busy = true;
      const merged = beta === '' ? 'oauth-2025-04-20' : /oauth-2025-04-20/i.test(beta) ? beta : `${beta},oauth-2025-04-20`;
      const up = upstreamSocket();
      up.cork();
      up.write(`${method} ${target.slice(22)} HTTP/1.1\r\nhost: ${upstreamHost}\r\n${head}anthropic-beta: ${merged}\r\n${tail}content-length: ${length}\r\n\r\n`, 'latin1');
      up.write(body);
      up.uncork();
      relay(up, client, (s) => {
        idle.push(s);
        busy = false;
        next();
      });
    };
    client.on('data', (d) => {
      buf = buf === null ? d : Buffer.concat([buf, d]);
      next();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const s of idle) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
