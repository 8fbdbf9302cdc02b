// The lean HTTP/1.1 front on its own: which heads it accepts (a strict subset) and which it hands to
// node:http, and how it serves a connection — pipelining, split writes, keep-alive, close, chunked
// answers, timeouts, handler failures, and the hand-off with every unread byte intact.
import { once } from 'node:events';
import http from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { fallbackReasons, type LeanFrontOptions, type LeanHandler, MAX_LEAN_HEAD_BYTES, parseLeanHead, serveLean } from './lean-relay.js';
import { exchange } from './testing-fixtures/raw-exchange.js';

const AUTH = 'Basic c2FuZGJveDpzZWNyZXQ=';
const proxyOpts = { mode: 'proxy', scheme: 'http', maxBodyBytes: 1024 } as const;
const originOpts = { mode: 'origin', scheme: 'http', maxBodyBytes: 1024 } as const;
const authorize = (_s: Socket, v: string | undefined) => v === AUTH;
const fakeSocket = {} as Socket;

function head(lines: string[]): Buffer {
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}
const proxyHead = (first: string, extra: string[] = []) => head([first, `Proxy-Authorization: ${AUTH}`, 'Content-Length: 2', ...extra]);

describe('parseLeanHead: what the lean front takes', () => {
  it('takes a canonical absolute-form POST and keeps the raw header pairs', () => {
    const v = parseLeanHead(proxyHead('POST http://inference.local/v1/messages?beta=true HTTP/1.1', ['anthropic-beta: a,b', 'X-Api-Key: k']), proxyOpts, fakeSocket, authorize);
    expect(v).toEqual({
      lean: {
        method: 'POST',
        path: '/v1/messages?beta=true',
        rawHeaders: ['Proxy-Authorization', AUTH, 'Content-Length', '2', 'anthropic-beta', 'a,b', 'X-Api-Key', 'k'],
        bodyLength: 2,
        headBytes: expect.any(Number),
        close: false,
      },
    });
  });

  it('takes the explicit :80 form, trims optional whitespace, and notes Connection: close', () => {
    const v = parseLeanHead(proxyHead('GET http://inference.local:80/v1/models HTTP/1.1', ['Connection: keep-alive, close', 'X-Pad:\t v \t']), proxyOpts, fakeSocket, authorize);
    expect(v !== undefined && 'lean' in v && v.lean).toMatchObject({ path: '/v1/models', close: true, rawHeaders: expect.arrayContaining(['X-Pad', 'v']) });
  });

  it('takes origin-form with exactly one Host naming inference.local (the port of its scheme allowed)', () => {
    for (const host of ['inference.local', 'inference.local:80']) {
      const v = parseLeanHead(head(['GET /v1/models HTTP/1.1', `Host: ${host}`]), originOpts);
      expect(v !== undefined && 'lean' in v).toBe(true);
    }
    const tls = parseLeanHead(head(['GET /v1/models HTTP/1.1', 'Host: inference.local:443']), { ...originOpts, scheme: 'https' });
    expect(tls !== undefined && 'lean' in tls).toBe(true);
  });

  it('waits (undefined) while the head is incomplete', () => {
    expect(parseLeanHead(Buffer.from('POST http://inference.local/v1/messages HTTP/1.1\r\nHost: x\r\n'), proxyOpts, fakeSocket, authorize)).toBeUndefined();
  });

  const FALLBACK: ReadonlyArray<[string, Buffer, typeof proxyOpts | typeof originOpts]> = [
    ['Transfer-Encoding', proxyHead('POST http://inference.local/v1/messages HTTP/1.1', ['Transfer-Encoding: chunked']), proxyOpts],
    ['Content-Length twice (same value)', proxyHead('POST http://inference.local/v1/messages HTTP/1.1', ['Content-Length: 2']), proxyOpts],
    ['Content-Length with a sign', head(['POST http://inference.local/v1/messages HTTP/1.1', `Proxy-Authorization: ${AUTH}`, 'Content-Length: +2']), proxyOpts],
    ['Content-Length as a list', head(['POST http://inference.local/v1/messages HTTP/1.1', `Proxy-Authorization: ${AUTH}`, 'Content-Length: 2, 2']), proxyOpts],
    ['a body above the bound', head(['POST http://inference.local/v1/messages HTTP/1.1', `Proxy-Authorization: ${AUTH}`, 'Content-Length: 1025']), proxyOpts],
    ['Expect: 100-continue', proxyHead('POST http://inference.local/v1/messages HTTP/1.1', ['Expect: 100-continue']), proxyOpts],
    ['Upgrade', proxyHead('GET http://inference.local/v1/models HTTP/1.1', ['Upgrade: websocket']), proxyOpts],
    ['Connection: upgrade', proxyHead('GET http://inference.local/v1/models HTTP/1.1', ['Connection: Upgrade']), proxyOpts],
    ['obs-fold', proxyHead('POST http://inference.local/v1/messages HTTP/1.1', ['X-A: one', ' two']), proxyOpts],
    ['whitespace before the colon', proxyHead('POST http://inference.local/v1/messages HTTP/1.1', ['X-A : one']), proxyOpts],
    ['a bare LF inside the head', Buffer.from(`POST http://inference.local/v1/messages HTTP/1.1\r\nProxy-Authorization: ${AUTH}\nX: y\r\n\r\n`), proxyOpts],
    ['a NUL in a value', proxyHead('POST http://inference.local/v1/messages HTTP/1.1', ['X-A: o\u0000ne']), proxyOpts],
    ['a bare CR in a value', proxyHead('POST http://inference.local/v1/messages HTTP/1.1', ['X-A: o\rne']), proxyOpts],
    ['HTTP/1.0', proxyHead('POST http://inference.local/v1/messages HTTP/1.0'), proxyOpts],
    ['a lowercase method', proxyHead('post http://inference.local/v1/messages HTTP/1.1'), proxyOpts],
    ['PUT', proxyHead('PUT http://inference.local/v1/messages HTTP/1.1'), proxyOpts],
    ['CONNECT', head(['CONNECT inference.local:443 HTTP/1.1', `Proxy-Authorization: ${AUTH}`]), proxyOpts],
    ['another host', proxyHead('POST http://example.com/v1/messages HTTP/1.1'), proxyOpts],
    ['inference.local in capitals', proxyHead('POST http://INFERENCE.LOCAL/v1/messages HTTP/1.1'), proxyOpts],
    ['another port', proxyHead('POST http://inference.local:8080/v1/messages HTTP/1.1'), proxyOpts],
    ['userinfo', proxyHead('POST http://u@inference.local/v1/messages HTTP/1.1'), proxyOpts],
    ['https in absolute form', proxyHead('POST https://inference.local/v1/messages HTTP/1.1'), proxyOpts],
    ['origin-form on the proxy port', proxyHead('POST /v1/messages HTTP/1.1'), proxyOpts],
    ['a dot segment', proxyHead('POST http://inference.local/v1/../admin HTTP/1.1'), proxyOpts],
    ['a percent-encoded dot segment', proxyHead('POST http://inference.local/v1/%2E%2e/admin HTTP/1.1'), proxyOpts],
    ['a fragment', proxyHead('POST http://inference.local/v1/messages#x HTTP/1.1'), proxyOpts],
    ['a backslash', proxyHead('POST http://inference.local/v1\\messages HTTP/1.1'), proxyOpts],
    ['an empty query', proxyHead('POST http://inference.local/v1/messages? HTTP/1.1'), proxyOpts],
    ["a quote in the query (URL parsing would encode it)", proxyHead("POST http://inference.local/v1/messages?a='b' HTTP/1.1"), proxyOpts],
    ['no Proxy-Authorization', head(['POST http://inference.local/v1/messages HTTP/1.1', 'Content-Length: 2']), proxyOpts],
    ['a wrong Proxy-Authorization', head(['POST http://inference.local/v1/messages HTTP/1.1', 'Proxy-Authorization: Basic eA==']), proxyOpts],
    ['Proxy-Authorization twice', proxyHead('POST http://inference.local/v1/messages HTTP/1.1', [`Proxy-Authorization: ${AUTH}`]), proxyOpts],
    ['origin-form without Host', head(['GET /v1/models HTTP/1.1']), originOpts],
    ['origin-form with two Hosts', head(['GET /v1/models HTTP/1.1', 'Host: inference.local', 'Host: inference.local']), originOpts],
    ['origin-form with another Host', head(['GET /v1/models HTTP/1.1', 'Host: example.com']), originOpts],
    ['origin-form with the https port over http', head(['GET /v1/models HTTP/1.1', 'Host: inference.local:443']), originOpts],
    ['absolute-form on an origin connection', head(['GET http://inference.local/v1/models HTTP/1.1', 'Host: inference.local']), originOpts],
  ];
  for (const [name, bytes, opts] of FALLBACK) {
    it(`hands off: ${name}`, () => {
      const v = parseLeanHead(bytes, opts, fakeSocket, authorize);
      expect(v).toBeDefined();
      expect(v !== undefined && 'fallback' in v).toBe(true);
    });
  }

  it('hands off every proxy-mode request when no secret check is wired (fails closed)', () => {
    expect(parseLeanHead(proxyHead('POST http://inference.local/v1/messages HTTP/1.1'), proxyOpts)).toEqual({ fallback: 'proxy auth' });
  });

  it('hands off a head above the bound, complete or not', () => {
    const big = `X-Pad: ${'a'.repeat(MAX_LEAN_HEAD_BYTES)}`;
    expect(parseLeanHead(proxyHead('POST http://inference.local/v1/messages HTTP/1.1', [big]), proxyOpts, fakeSocket, authorize)).toEqual({ fallback: 'head too large' });
    expect(parseLeanHead(Buffer.from(`POST http://inference.local/v1/messages HTTP/1.1\r\n${big}`), proxyOpts, fakeSocket, authorize)).toEqual({ fallback: 'head too large' });
  });
});

// ---------------------------------------------------------------------------------------------------

const servers: net.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise<void>((r) => s.close(() => r()));
});

interface Harness {
  port: number;
  seen: Array<{ method: string; path: string; body: string }>;
  fallbackHits: Array<{ method: string | undefined; url: string | undefined; body: string }>;
  sockets: Socket[];
}

/** A loopback server whose connections start on the lean front; hand-offs go to a node:http server. */
async function harness(handle: LeanHandler, overrides: Partial<LeanFrontOptions> = {}): Promise<Harness> {
  const h: Harness = { port: 0, seen: [], fallbackHits: [], sockets: [] };
  const fallback = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    h.fallbackHits.push({ method: req.method, url: req.url, body: Buffer.concat(chunks).toString() });
    res.writeHead(299, { 'content-type': 'text/plain' }).end('node:http');
  });
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    h.sockets.push(socket);
    serveLean(socket, {
      mode: 'origin',
      scheme: 'http',
      maxBodyBytes: 64 * 1024,
      keepAliveTimeoutMs: 5_000,
      requestTimeoutMs: 5_000,
      handle: async (req, res) => {
        h.seen.push({ method: req.method, path: req.path, body: req.body?.toString() ?? '' });
        await handle(req, res);
      },
      fallback: (s) => fallback.emit('connection', s),
      ...overrides,
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  h.port = (server.address() as AddressInfo).port;
  return h;
}

const echo: LeanHandler = async (req, res) => {
  const body = Buffer.from(`${req.method} ${req.path} ${req.body?.length ?? 0}`);
  res.writeHead(200, ['content-type', 'text/plain', 'content-length', String(body.length)]);
  res.end(body);
};


const req = (path: string, body = '', extra: string[] = []) =>
  `POST ${path} HTTP/1.1\r\nHost: inference.local\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra.map((l) => `${l}\r\n`).join('')}\r\n${body}`;

describe('serveLean: serving a connection', () => {
  it('answers pipelined requests in order on one connection, then honours Connection: close', async () => {
    const h = await harness(echo);
    const all = req('/a', 'xy') + req('/b', '') + req('/c', 'hello', ['Connection: close']);
    const { text, closed } = await exchange({ port: h.port }, [all], 2_000);
    expect(closed).toBe(true);
    expect(text.match(/HTTP\/1\.1 200 OK/g)).toHaveLength(3);
    expect(text.indexOf('POST /a 2')).toBeLessThan(text.indexOf('POST /b 0'));
    expect(text.indexOf('POST /b 0')).toBeLessThan(text.indexOf('POST /c 5'));
    expect(text).toMatch(/connection: close\r\n\r\nPOST \/c 5$/);
    expect(h.fallbackHits).toHaveLength(0);
  });

  it('reads a request split at every byte', async () => {
    const h = await harness(echo);
    const bytes = Buffer.from(req('/split', '{"a":1}', ['Connection: close']));
    const { text } = await exchange({ port: h.port }, [...bytes].map((b) => Buffer.from([b])), 5_000, 1);
    expect(text).toContain('POST /split 7');
    expect(h.seen).toEqual([{ method: 'POST', path: '/split', body: '{"a":1}' }]);
  });

  it('collects a body that arrives in many writes after the head', async () => {
    const h = await harness(echo);
    const body = 'z'.repeat(20_000);
    const full = req('/big', body, ['Connection: close']);
    const parts = [];
    for (let i = 0; i < full.length; i += 997) parts.push(full.slice(i, i + 997));
    const { text } = await exchange({ port: h.port }, parts, 5_000, 1);
    expect(text).toContain('POST /big 20000');
    expect(h.seen[0]?.body).toBe(body);
  });

  it('sends a body without content-length chunked (a node client decodes it), and 204 without a body', async () => {
    const h = await harness(async (r, res) => {
      if (r.path === '/empty') {
        res.writeHead(204, []).end();
        return;
      }
      res.writeHead(200, 'Fine', ['content-type', 'text/event-stream']);
      res.flushHeaders();
      res.write(Buffer.from('data: 1\n\n'));
      res.write(Buffer.from('data: 2\n\n'));
      res.end();
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = (path: string) =>
      new Promise<{ status: number; text: string; headers: http.IncomingHttpHeaders; statusMessage: string | undefined }>((resolve, reject) => {
        const r = http.request({ host: '127.0.0.1', port: h.port, path, method: 'POST', headers: { host: 'inference.local', 'content-length': 0 }, agent }, (res) => {
          let text = '';
          res.on('data', (d) => {
            text += d;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers, statusMessage: res.statusMessage }));
        });
        r.on('error', reject);
        r.end();
      });
    const stream = await get('/stream');
    expect(stream).toMatchObject({ status: 200, statusMessage: 'Fine', text: 'data: 1\n\ndata: 2\n\n' });
    expect(stream.headers['transfer-encoding']).toBe('chunked');
    expect(stream.headers.date).toBeTruthy();
    const empty = await get('/empty');
    expect(empty).toMatchObject({ status: 204, text: '' });
    // Both went over one kept-alive connection.
    expect(h.sockets).toHaveLength(1);
    agent.destroy();
  });

  it('hands the connection to node:http at the first odd request, with its body and what follows intact', async () => {
    const h = await harness(echo);
    const odd = 'POST /odd HTTP/1.1\r\nHost: inference.local\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n';
    const after = 'POST /after HTTP/1.1\r\nHost: inference.local\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok';
    const { text } = await exchange({ port: h.port }, [req('/first', 'x'), odd.slice(0, 60), odd.slice(60), after], 2_000, 20);
    expect(text).toContain('POST /first 1');
    expect(text.match(/HTTP\/1\.1 299 /g)).toHaveLength(2);
    expect(h.seen.map((s) => s.path)).toEqual(['/first']);
    expect(h.fallbackHits).toEqual([
      { method: 'POST', url: '/odd', body: 'abc' },
      { method: 'POST', url: '/after', body: 'ok' },
    ]);
    expect(fallbackReasons.get(h.sockets[0] as Socket)).toBe('transfer-encoding');
  });

  it('answers 502 with connection: close when the handler throws before answering', async () => {
    const h = await harness(async () => {
      throw new Error('boom');
    });
    const { text, closed } = await exchange({ port: h.port }, [req('/x', '')], 2_000);
    expect(closed).toBe(true);
    expect(text).toMatch(/^HTTP\/1\.1 502 Bad Gateway\r\n/);
    expect(text).toContain('connection: close');
    expect(text).not.toContain('boom');
  });

  it('closes the connection when a handler returns without answering (the client is never left waiting)', async () => {
    const h = await harness(async () => undefined);
    const { text, closed } = await exchange({ port: h.port }, [req('/x', '')], 2_000);
    expect(closed).toBe(true);
    expect(text).toBe('');
  });

  it('tells the in-flight response when the client goes away', async () => {
    let closedSeen = false;
    let release: () => void = () => undefined;
    const h = await harness(
      (_r, res) =>
        new Promise<void>((resolve) => {
          res.once('close', () => {
            closedSeen = true;
            resolve();
          });
          release = resolve;
        }),
    );
    const s = net.connect(h.port, '127.0.0.1');
    await once(s, 'connect');
    s.write(req('/slow', ''));
    for (let i = 0; i < 100 && h.seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    s.destroy();
    for (let i = 0; i < 100 && !closedSeen; i++) await new Promise((r) => setTimeout(r, 10));
    release();
    expect(closedSeen).toBe(true);
  });

  it('closes an idle kept-alive connection after the keep-alive time, but not while a request is in flight', async () => {
    const h = await harness(
      async (r, res) => {
        if (r.path === '/slow') await new Promise((resolve) => setTimeout(resolve, 400));
        await echo(r, res);
      },
      { keepAliveTimeoutMs: 150 },
    );
    const { text, closed } = await exchange({ port: h.port }, [req('/slow', '')], 3_000);
    expect(text).toContain('POST /slow 0');
    expect(closed).toBe(true);
  });

  it('drops a request that trickles in past the request timeout', async () => {
    const h = await harness(echo, { requestTimeoutMs: 200, keepAliveTimeoutMs: 5_000 });
    const bytes = req('/trickle', '');
    const { text, closed } = await exchange({ port: h.port }, [...bytes.slice(0, 40)], 3_000, 15);
    expect(closed).toBe(true);
    expect(text).toBe('');
    expect(h.seen).toHaveLength(0);
  });
});
