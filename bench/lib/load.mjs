// Keep-alive HTTP/1.1 load generator for the TLS paths wrk cannot drive: direct TLS to a server, or
// CONNECT through a proxy then TLS inside the tunnel (what clients honouring HTTPS_PROXY do). Each
// connection is set up first (handshakes are not timed), then sends one request at a time for
// `seconds`. A tool: JSON on stdin → one JSON line on stdout { rps, p50Ms, p99Ms, errors, requests }.
import net from 'node:net';
import tls from 'node:tls';
import { readInput } from './proc.mjs';
import { percentile } from './stats.mjs';

const CRLF2 = Buffer.from('\r\n\r\n');

/** Opens a socket to `target`: {host, port, tls?: {servername, ca}, proxy?: {host, port, authorization}}. */
export function openConnection(target) {
  return new Promise((resolve, reject) => {
    const fail = (err) => reject(err);
    const wrap = (socket) => {
      if (!target.tls) return resolve(socket);
      const s = tls.connect({ socket, servername: target.tls.servername, ca: target.tls.ca, ALPNProtocols: ['http/1.1'] });
      s.once('secureConnect', () => {
        s.off('error', fail);
        resolve(s);
      });
      s.once('error', fail);
    };
    if (!target.proxy) {
      const s = net.connect(target.port, target.host);
      s.setNoDelay(true);
      s.once('error', fail);
      s.once('connect', () => {
        s.off('error', fail);
        wrap(s);
      });
      return;
    }
    const s = net.connect(target.proxy.port, target.proxy.host);
    s.setNoDelay(true);
    s.once('error', fail);
    s.once('connect', () => {
      const authority = `${target.tls?.servername ?? target.host}:${target.port}`;
      s.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nProxy-Authorization: ${target.proxy.authorization}\r\n\r\n`);
      let buf = Buffer.alloc(0);
      const onData = (d) => {
        buf = Buffer.concat([buf, d]);
        const end = buf.indexOf(CRLF2);
        if (end === -1) return;
        s.off('data', onData);
        const status = buf.subarray(0, buf.indexOf('\r\n')).toString('latin1');
        if (!/^HTTP\/1\.[01] 200/.test(status)) return reject(new Error(`CONNECT refused: ${status}`));
        s.off('error', fail);
        s.pause();
        if (buf.length > end + 4) s.unshift(buf.subarray(end + 4));
        wrap(s);
      };
      s.on('data', onData);
    });
  });
}

/** Builds the raw request bytes once. */
export function rawRequest({ method = 'POST', path, host, headers = {}, body = '' }) {
  const b = Buffer.from(body);
  const lines = [`${method} ${path} HTTP/1.1`, `host: ${host}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), `content-length: ${b.length}`];
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), b]);
}

/**
 * Reads responses off a socket: calls `onResponse(status)` for each complete one. Handles
 * content-length and chunked bodies (for chunked: until the 0-size chunk).
 */
export function responseReader(socket, onResponse) {
  let buf = Buffer.alloc(0);
  let need = -1; // bytes of the current response (head + body), -1 = head not parsed yet
  let status = 0;
  let chunked = false;
  let headEnd = 0;
  socket.on('data', (d) => {
    buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
    for (;;) {
      if (need === -1) {
        const end = buf.indexOf(CRLF2);
        if (end === -1) return;
        const head = buf.subarray(0, end).toString('latin1');
        status = Number(head.slice(9, 12));
        const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        chunked = cl === null && /\r\ntransfer-encoding:\s*chunked/i.test(head);
        headEnd = end + 4;
        need = cl ? headEnd + Number(cl[1]) : chunked ? 0 : headEnd;
      }
      if (chunked) {
        const term = buf.indexOf('\r\n0\r\n\r\n', headEnd - 2);
        if (term === -1) return;
        need = term + 7;
      }
      if (buf.length < need) return;
      buf = buf.subarray(need);
      need = -1;
      onResponse(status);
    }
  });
}

export async function runLoad({ target, request, connections, seconds, warmupRequests = 1 }) {
  const req = rawRequest(request);
  const sockets = [];
  for (let i = 0; i < connections; i++) sockets.push(await openConnection(target));
  const latencies = [];
  let errors = 0;
  let requests = 0;
  let measuring = false;
  let deadline = 0;
  const done = [];
  for (const s of sockets) {
    s.resume();
    let sentAt = 0;
    let warm = 0;
    let finished;
    done.push(
      new Promise((resolve) => {
        finished = resolve;
      }),
    );
    const send = () => {
      sentAt = performance.now();
      s.write(req);
    };
    s.on('error', () => {
      errors++;
      finished();
    });
    s.on('close', () => finished());
    responseReader(s, (status) => {
      const now = performance.now();
      if (measuring) {
        requests++;
        latencies.push(now - sentAt);
        if (status !== 200) errors++;
      } else warm++;
      if (!measuring && warm >= warmupRequests) {
        s.__ready?.();
        return;
      }
      if (measuring && now >= deadline) {
        finished();
        return;
      }
      send();
    });
    s.__start = send;
  }
  // Warm-up: every connection does `warmupRequests` requests, then all start together.
  await Promise.all(
    sockets.map(
      (s) =>
        new Promise((resolve) => {
          s.__ready = resolve;
          s.__start();
        }),
    ),
  );
  const started = performance.now();
  deadline = started + seconds * 1000;
  measuring = true;
  for (const s of sockets) {
    s.__ready = undefined;
    s.__start();
  }
  await Promise.all(done);
  const elapsed = (performance.now() - started) / 1000;
  for (const s of sockets) s.destroy();
  return { rps: requests / elapsed, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), errors, requests };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const input = await readInput();
  const result = await runLoad(input);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}
