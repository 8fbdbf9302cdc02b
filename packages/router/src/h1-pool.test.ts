import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, type Socket, createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type H1Agent, type H1AgentOptions, type H1Controller, type H1DispatchOptions, type H1Handler, createH1Agent } from './h1-pool.js';
import { closedPort, startSilentTcp, startUpstream, withTimeout } from './testing-fixtures/servers.js';

// ---------------------------------------------------------------------------------------------
// Fixtures: a handler that records every callback, and a raw TCP server for odd framings.

interface Outcome {
  readonly status: number;
  readonly reason: string | undefined;
  readonly rawHeaders: string[];
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly error: (Error & { code?: string }) | undefined;
}

/** Records callbacks in order; `calls` shows anything arriving after the end. */
class Recorder implements H1Handler {
  readonly calls: string[] = [];
  controller: H1Controller | undefined;
  private finished = false;
  private status = 0;
  private reason: string | undefined;
  private rawHeaders: string[] = [];
  private headers: IncomingHttpHeaders = {};
  private readonly chunks: Buffer[] = [];
  readonly done: Promise<Outcome>;
  private resolve!: (o: Outcome) => void;

  constructor(private readonly hooks: { data?: (ctl: H1Controller, chunk: Buffer, total: number) => void; start?: (ctl: H1Controller) => void } = {}) {
    this.done = new Promise((resolve) => {
      this.resolve = resolve;
    });
  }

  get received(): number {
    return this.chunks.reduce((n, c) => n + c.length, 0);
  }

  private note(what: string): void {
    this.calls.push(this.finished ? `late:${what}` : what);
  }

  onRequestStart(controller: H1Controller): void {
    this.note('requestStart');
    this.controller = controller;
  }

  onResponseStart(controller: H1Controller, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    this.note('responseStart');
    this.status = statusCode;
    this.reason = statusMessage;
    this.rawHeaders = [...(controller.rawHeaders ?? [])];
    this.headers = headers;
    this.hooks.start?.(controller);
  }

  onResponseData(controller: H1Controller, chunk: Buffer): void {
    this.note('data');
    this.chunks.push(Buffer.from(chunk));
    this.hooks.data?.(controller, chunk, this.received);
  }

  onResponseEnd(): void {
    this.note('end');
    this.finish(undefined);
  }

  onResponseError(_controller: H1Controller, error: Error): void {
    this.note('error');
    this.finish(error);
  }

  private finish(error: Error | undefined): void {
    if (this.finished) return;
    this.finished = true;
    this.resolve({
      status: this.status,
      reason: this.reason,
      rawHeaders: this.rawHeaders,
      headers: this.headers,
      body: Buffer.concat(this.chunks),
      error: error as Outcome['error'],
    });
  }
}

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function agentFor(origin: string, options: Omit<H1AgentOptions, 'origin'> = {}): H1Agent {
  const agent = createH1Agent({ origin, ...options });
  cleanups.push(() => withTimeout(agent.close(), 5_000, 'agent close'));
  return agent;
}

/** Sends one request and waits (bounded) for its outcome. */
async function call(agent: H1Agent, options: Partial<H1DispatchOptions> = {}, recorder = new Recorder()): Promise<Outcome & { calls: string[] }> {
  agent.dispatch({ method: 'GET', path: '/', headersTimeout: 5_000, bodyTimeout: 5_000, ...options }, recorder);
  const outcome = await withTimeout(recorder.done, 10_000, 'h1 exchange');
  await new Promise((r) => setTimeout(r, 5)); // let anything late show up in `calls`
  return { ...outcome, calls: recorder.calls };
}

/** A request as the raw server read it. */
interface RawRequest {
  readonly head: string;
  readonly body: Buffer;
  /** 1-based number of the connection it came on. */
  readonly connection: number;
  /** 0-based position of the request on its connection. */
  readonly index: number;
}

interface RawServer {
  readonly origin: string;
  readonly port: number;
  readonly requests: RawRequest[];
  /** Connections accepted. */
  connections: number;
  /** Connections the client ended (FIN seen by the server). */
  clientEnds: number;
}

/** A TCP server that reads HTTP/1.1 requests (content-length bodies) and lets the test write any bytes back. */
async function startRaw(respond: (req: RawRequest, socket: Socket) => void | Promise<void>): Promise<RawServer> {
  const sockets = new Set<Socket>();
  const state: RawServer = { origin: '', port: 0, requests: [], connections: 0, clientEnds: 0 };
  const server = createTcpServer((socket) => {
    const connection = ++state.connections;
    let index = 0;
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.on('end', () => {
      state.clientEnds++;
    });
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buffered.toString('latin1', 0, end);
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        const body = buffered.subarray(end + 4, end + 4 + length);
        buffered = buffered.subarray(end + 4 + length);
        const req: RawRequest = { head, body, connection, index: index++ };
        state.requests.push(req);
        void Promise.resolve(respond(req, socket)).catch(() => socket.destroy());
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return Object.assign(state, { origin: `http://127.0.0.1:${port}`, port });
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Writes bytes as separate writes of `size` bytes with a pause between them. */
async function trickle(socket: Socket, bytes: string | Buffer, size = 1): Promise<void> {
  const buf = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
  for (let i = 0; i < buf.length && !socket.destroyed; i += size) {
    socket.write(buf.subarray(i, i + size));
    await pause(1);
  }
}

/** Polls `pred` (bounded: 100 × 50 ms). */
async function eventually(pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (pred()) return;
    await pause(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const CHUNKED_WITH_TRAILERS =
  'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n' +
  '5;name=value\r\nhello\r\n' +
  '6 ; a="b;c" ; flag\r\n world\r\n' +
  '0\r\nX-Trailer: t1\r\nX-Other: t2\r\n\r\n';

// ---------------------------------------------------------------------------------------------

describe('request on the wire', () => {
  it('writes method, path, host as in the origin, the given headers, content-length and the body', async () => {
    const server = await startRaw((_req, socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
    const agent = agentFor(server.origin);
    const out = await call(agent, { method: 'POST', path: '/v1/messages?beta=true', headers: ['content-type', 'application/json', 'x-b', 'two words'], body: Buffer.from('{"a":1}') });
    expect(out.error).toBeUndefined();
    expect(out.body.toString()).toBe('ok');
    expect(server.requests[0]!.head).toBe(
      `POST /v1/messages?beta=true HTTP/1.1\r\nhost: 127.0.0.1:${server.port}\r\ncontent-type: application/json\r\nx-b: two words\r\ncontent-length: 7`,
    );
    expect(server.requests[0]!.body.toString()).toBe('{"a":1}');
  });

  it('sends content-length: 0 for POST, PUT and PATCH without a body, none for GET', async () => {
    const server = await startRaw((_req, socket) => {
      socket.write('HTTP/1.1 204 No Content\r\n\r\n');
    });
    const agent = agentFor(server.origin);
    for (const method of ['POST', 'PUT', 'PATCH', 'GET', 'DELETE']) await call(agent, { method });
    expect(server.requests.map((r) => /content-length: (\d+)/.exec(r.head)?.[1] ?? 'none')).toEqual(['0', '0', '0', 'none', 'none']);
  });

  it('sends a large body intact (corked head and body)', async () => {
    const big = Buffer.alloc(300 * 1024, 0x7a);
    const server = await startRaw((req, socket) => {
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${String(req.body.length).length}\r\n\r\n${req.body.length}`);
    });
    const out = await call(agentFor(server.origin), { method: 'POST', body: big });
    expect(out.body.toString()).toBe(String(big.length));
  });

  it.each([
    ['a CR/LF in a value', ['x-a', 'v\r\nx-injected: 1']],
    ['a bare LF in a value', ['x-a', 'v\nx']],
    ['a NUL in a value', ['x-a', 'v\0']],
    ['a CR in a name', ['x-a\r', 'v']],
    ['a colon in a name', ['x-a: y', 'v']],
    ['a framing header the agent owns', ['content-length', '5']],
    ['a host header', ['Host', 'evil.example']],
    ['an odd header list', ['x-a']],
  ])('refuses %s before connecting', async (_what, headers) => {
    const server = await startRaw(() => {});
    const out = await call(agentFor(server.origin), { headers });
    expect(out.error?.code).toBe('UND_ERR_INVALID_ARG');
    expect(out.calls).toEqual(['error']);
    expect(server.connections).toBe(0);
  });

  it('refuses a path with a space or CR/LF', async () => {
    const server = await startRaw(() => {});
    const agent = agentFor(server.origin);
    expect((await call(agent, { path: '/a b' })).error?.code).toBe('UND_ERR_INVALID_ARG');
    expect((await call(agent, { path: '/a\r\nx: y' })).error?.code).toBe('UND_ERR_INVALID_ARG');
    expect(server.connections).toBe(0);
  });
});

describe('response framing', () => {
  it('content-length: status, reason, raw header case and duplicates, lowercase header object', async () => {
    const server = await startRaw((_req, socket) => {
      socket.write('HTTP/1.1 201 Created Here\r\nContent-Length: 5\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nX-Pad:   spaced value \t\r\n\r\nhello');
    });
    const out = await call(agentFor(server.origin));
    expect(out.status).toBe(201);
    expect(out.reason).toBe('Created Here');
    expect(out.rawHeaders).toEqual(['Content-Length', '5', 'Set-Cookie', 'a=1', 'set-cookie', 'b=2', 'X-Pad', 'spaced value']);
    expect(out.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(out.headers['content-length']).toBe('5');
    expect(out.body.toString()).toBe('hello');
    expect(out.calls).toEqual(['requestStart', 'responseStart', 'data', 'end']);
  });

  it('chunked with extensions and trailers: the decoded payload, trailers discarded, the socket reused', async () => {
    const server = await startRaw((_req, socket) => {
      socket.write(CHUNKED_WITH_TRAILERS);
    });
    const agent = agentFor(server.origin);
    for (let i = 0; i < 2; i++) {
      const out = await call(agent);
      expect(out.error).toBeUndefined();
      expect(out.body.toString()).toBe('hello world');
      expect(out.rawHeaders).not.toContain('X-Trailer');
    }
    expect(server.connections).toBe(1);
  });

  it('works with the response split in two at every byte position (one socket throughout)', async () => {
    const bytes = Buffer.from(CHUNKED_WITH_TRAILERS, 'latin1');
    let split = 1;
    const server = await startRaw(async (_req, socket) => {
      socket.write(bytes.subarray(0, split));
      await pause(2);
      socket.write(bytes.subarray(split));
    });
    const agent = agentFor(server.origin);
    for (; split < bytes.length; split++) {
      const out = await call(agent);
      expect({ split, error: out.error?.message, body: out.body.toString() }).toEqual({ split, error: undefined, body: 'hello world' });
    }
    expect(server.connections).toBe(1);
  });

  it('works with a server that writes one byte at a time (chunked, then content-length)', async () => {
    const server = await startRaw(async (req, socket) => {
      await trickle(socket, req.index === 0 ? CHUNKED_WITH_TRAILERS : 'HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\nhello world');
    });
    const agent = agentFor(server.origin);
    const a = await call(agent);
    const b = await call(agent);
    expect([a.body.toString(), b.body.toString()]).toEqual(['hello world', 'hello world']);
    expect(server.connections).toBe(1);
  });

  it('close-delimited body: read until the server closes; the socket is not reused', async () => {
    const server = await startRaw((_req, socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nall of ');
      setTimeout(() => socket.end('this'), 5);
    });
    const agent = agentFor(server.origin);
    expect((await call(agent)).body.toString()).toBe('all of this');
    expect((await call(agent)).body.toString()).toBe('all of this');
    expect(server.connections).toBe(2);
  });

  it('skips 1xx heads and answers the final one', async () => {
    const server = await startRaw((_req, socket) => {
      socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n');
      setTimeout(() => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'), 5);
    });
    const out = await call(agentFor(server.origin));
    expect(out.status).toBe(200);
    expect(out.body.toString()).toBe('ok');
    expect(out.rawHeaders).toEqual(['content-length', '2']);
    expect(out.calls).toEqual(['requestStart', 'responseStart', 'data', 'end']);
  });

  it('101 Switching Protocols is an error', async () => {
    const server = await startRaw((_req, socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    });
    const out = await call(agentFor(server.origin));
    expect(out.error).toBeDefined();
    expect(out.calls).toEqual(['requestStart', 'error']);
  });

  it('204, 304 and HEAD have no body (even with a content-length) and keep the socket', async () => {
    const server = await startRaw((req, socket) => {
      if (req.index === 0) socket.write('HTTP/1.1 204 No Content\r\n\r\n');
      else if (req.index === 1) socket.write('HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n');
      else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n');
    });
    const agent = agentFor(server.origin);
    const a = await call(agent);
    const b = await call(agent);
    const c = await call(agent, { method: 'HEAD' });
    expect([a.status, b.status, c.status]).toEqual([204, 304, 200]);
    expect([a.body.length, b.body.length, c.body.length]).toEqual([0, 0, 0]);
    expect(c.calls).toEqual(['requestStart', 'responseStart', 'end']);
    expect(server.connections).toBe(1);
  });

  it('transfer-encoding and content-length together: the coding wins and the socket is not reused', async () => {
    const server = await startRaw((_req, socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
    });
    const agent = agentFor(server.origin);
    expect((await call(agent)).body.toString()).toBe('hello');
    expect((await call(agent)).body.toString()).toBe('hello');
    expect(server.connections).toBe(2);
  });

  it('a transfer coding other than chunked last: body until close', async () => {
    const server = await startRaw((_req, socket) => {
      socket.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nraw bytes');
    });
    expect((await call(agentFor(server.origin))).body.toString()).toBe('raw bytes');
  });

  it('bytes after the end of a response: the socket is destroyed instead of reused', async () => {
    const server = await startRaw((_req, socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nextra');
    });
    const agent = agentFor(server.origin);
    expect((await call(agent)).body.toString()).toBe('ok');
    expect((await call(agent)).body.toString()).toBe('ok');
    expect(server.connections).toBe(2);
  });

  it('repeated identical content-length values are accepted', async () => {
    const server = await startRaw((_req, socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nContent-Length: 2\r\n\r\nok');
    });
    expect((await call(agentFor(server.origin))).body.toString()).toBe('ok');
  });

  it.each([
    ['differing content-lengths', 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok', 'HPE_UNEXPECTED_CONTENT_LENGTH'],
    ['a content-length list', 'HTTP/1.1 200 OK\r\ncontent-length: 2, 2\r\n\r\nok', 'HPE_INVALID_CONTENT_LENGTH'],
    ['a negative content-length', 'HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\nok', 'HPE_INVALID_CONTENT_LENGTH'],
    ['an invalid chunk size', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n', 'HPE_INVALID_CHUNK_SIZE'],
    ['an oversized chunk size', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nfffffffffffffffff\r\nx\r\n', 'HPE_INVALID_CHUNK_SIZE'],
    ['a chunk size line without CR', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n', 'HPE_CR_EXPECTED'],
    ['chunk data longer than its size', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n', 'HPE_STRICT'],
    ['a status line that is not HTTP', 'ICY 200 OK\r\n\r\n', 'HPE_INVALID_CONSTANT'],
    ['a three-letter status', 'HTTP/1.1 2OO OK\r\n\r\n', 'HPE_INVALID_STATUS'],
    ['HTTP/2 in the status line', 'HTTP/2.0 200 OK\r\n\r\n', 'HPE_INVALID_CONSTANT'],
    ['a header without colon', 'HTTP/1.1 200 OK\r\nno colon here\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN'],
    ['a space before the colon', 'HTTP/1.1 200 OK\r\ncontent-length : 2\r\n\r\nok', 'HPE_INVALID_HEADER_TOKEN'],
    ['an obs-fold line', 'HTTP/1.1 200 OK\r\nx-a: 1\r\n  folded\r\ncontent-length: 0\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN'],
    ['a bare LF inside the head', 'HTTP/1.1 200 OK\r\nx-a: 1\nx-b: 2\r\ncontent-length: 0\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN'],
    ['a NUL in a header value', 'HTTP/1.1 200 OK\r\nx-a: 1\0\r\ncontent-length: 0\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN'],
  ])('%s → error %s, nothing relayed', async (_what, response, code) => {
    const server = await startRaw((_req, socket) => {
      socket.write(response);
    });
    const out = await call(agentFor(server.origin));
    expect(out.error?.code).toBe(code);
    expect(out.calls.filter((c) => c === 'error' || c === 'end' || c.startsWith('late'))).toEqual(['error']);
  });

  it('a response head larger than the bound → UND_ERR_HEADERS_OVERFLOW (in one piece and trickled)', async () => {
    const pad = `HTTP/1.1 200 OK\r\n${'x-pad: '.concat('p'.repeat(1000), '\r\n').repeat(80)}\r\n`;
    const server = await startRaw(async (req, socket) => {
      if (req.index === 0) socket.write(pad);
      else await trickle(socket, pad.slice(0, 20_000), 997);
    });
    const agent = agentFor(server.origin, { maxHeaderBytes: 16 * 1024 });
    expect((await call(agent)).error?.code).toBe('UND_ERR_HEADERS_OVERFLOW');
    expect((await call(agent)).error?.code).toBe('UND_ERR_HEADERS_OVERFLOW');
    const defaults = agentFor(server.origin);
    expect((await call(defaults)).error?.code).toBe('UND_ERR_HEADERS_OVERFLOW'); // 80 KB > 64 KiB
  });

  it('trailers larger than the bound are an error too', async () => {
    const server = await startRaw((_req, socket) => {
      socket.write(`HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n${'x-t: '.concat('t'.repeat(500), '\r\n').repeat(10)}\r\n`);
    });
    expect((await call(agentFor(server.origin, { maxHeaderBytes: 2048 }))).error?.code).toBe('UND_ERR_HEADERS_OVERFLOW');
  });
});

describe('keep-alive pool', () => {
  it('reuses one socket for sequential requests (a node:http server counts one connection)', async () => {
    const upstream = await startUpstream((req, res) => {
      res.end(`you asked ${req.url}`);
    });
    cleanups.push(() => upstream.close());
    const agent = agentFor(upstream.url);
    for (const path of ['/a', '/b', '/c']) expect((await call(agent, { path })).body.toString()).toBe(`you asked ${path}`);
    expect(upstream.connections).toBe(1);
  });

  it('reuses the most recently released idle socket first (LIFO)', async () => {
    const server = await startRaw(async (req, socket) => {
      if (req.index === 0 && req.connection === 2) await pause(40); // connection 2 is released last
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
    });
    const agent = agentFor(server.origin);
    await Promise.all([call(agent), call(agent)]);
    await call(agent);
    expect(server.requests.map((r) => r.connection)).toEqual([1, 2, 2]);
  });

  it('connection: close and HTTP/1.0 without keep-alive end the socket; HTTP/1.0 with keep-alive keeps it', async () => {
    const answers = [
      'HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 1\r\n\r\na',
      'HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\nb',
      'HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\ncontent-length: 1\r\n\r\nc',
      'HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nd',
    ];
    let n = 0;
    const server = await startRaw((_req, socket) => {
      socket.write(answers[n++]!);
    });
    const agent = agentFor(server.origin);
    const bodies: string[] = [];
    for (let i = 0; i < answers.length; i++) bodies.push((await call(agent)).body.toString());
    expect(bodies).toEqual(['a', 'b', 'c', 'd']);
    // a: own socket, closed; b: own socket, closed; c and d share the third.
    expect(server.requests.map((r) => r.connection)).toEqual([1, 2, 3, 3]);
  });

  it('closes an idle socket after keepAliveTimeoutMs', async () => {
    const server = await startRaw((_req, socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
    });
    await call(agentFor(server.origin, { keepAliveTimeoutMs: 50 }));
    await eventually(() => server.clientEnds === 1, 'the idle socket to be closed by the client');
    expect(server.clientEnds).toBe(1);
  });

  it("honours the server's Keep-Alive: timeout hint minus one second", async () => {
    const server = await startRaw((req, socket) => {
      // timeout=1 leaves nothing after the one-second margin: not reusable at all.
      socket.write(`HTTP/1.1 200 OK\r\nKeep-Alive: timeout=${req.connection === 1 ? 1 : 2}, max=100\r\ncontent-length: 0\r\n\r\n`);
    });
    const agent = agentFor(server.origin, { keepAliveTimeoutMs: 60_000 });
    await call(agent);
    await call(agent);
    expect(server.requests.map((r) => r.connection)).toEqual([1, 2]);
    // timeout=2 → the client closes the idle socket after about one second, well before its own 60 s.
    await eventually(() => server.clientEnds === 2, 'the hinted idle timeout');
    expect(server.clientEnds).toBe(2);
  });

  it('an idle socket the server closed leaves the pool; the next request opens a new one', async () => {
    const server = await startRaw((_req, socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      setTimeout(() => socket.end(), 10); // server-side idle close
    });
    const agent = agentFor(server.origin);
    await call(agent);
    await pause(60);
    const out = await call(agent);
    expect(out.error).toBeUndefined();
    expect(server.requests.map((r) => r.connection)).toEqual([1, 2]);
  });

  it('a reused socket that dies before any response byte (close race): retried once on a fresh connection', async () => {
    const server = await startRaw((req, socket) => {
      if (req.index === 1) {
        socket.destroy(); // the keep-alive close race: our request met a closing socket
        return;
      }
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
    const agent = agentFor(server.origin);
    await call(agent, { method: 'POST', body: Buffer.from('first') });
    const out = await call(agent, { method: 'POST', body: Buffer.from('second') });
    expect(out.error).toBeUndefined();
    expect(out.body.toString()).toBe('ok');
    expect(out.calls).toEqual(['requestStart', 'responseStart', 'data', 'end']);
    expect(server.requests.map((r) => [r.connection, r.body.toString()])).toEqual([
      [1, 'first'],
      [1, 'second'],
      [2, 'second'],
    ]);
  });

  it('retries only once, and never on a fresh connection', async () => {
    const server = await startRaw((req, socket) => {
      if (req.connection === 1 && req.index === 0) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
      else socket.destroy();
    });
    const agent = agentFor(server.origin);
    await call(agent);
    const out = await call(agent);
    expect(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']).toContain(out.error?.code);
    expect(server.requests.map((r) => r.connection)).toEqual([1, 1, 2]);
    const fresh = await call(agent);
    expect(fresh.error).toBeDefined();
    expect(server.requests.map((r) => r.connection)).toEqual([1, 1, 2, 3]);
  });

  it('no retry once response bytes arrived: the handler gets the error', async () => {
    const server = await startRaw((req, socket) => {
      if (req.index === 0) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
      else socket.end('HTTP/1.1 200 OK\r\ncontent-le');
    });
    const agent = agentFor(server.origin);
    await call(agent);
    const out = await call(agent);
    expect(out.error?.code).toBe('UND_ERR_SOCKET');
    expect(server.requests).toHaveLength(2);
  });

  it('connections bounds open sockets; the rest wait in FIFO order', async () => {
    const server = await startRaw(async (req, socket) => {
      await pause(10);
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${req.head.split(' ')[1]!.length}\r\n\r\n${req.head.split(' ')[1]}`);
    });
    const agent = agentFor(server.origin, { connections: 1 });
    const recorders = ['/1', '/2', '/3', '/4'].map((path) => {
      const r = new Recorder();
      agent.dispatch({ method: 'GET', path }, r);
      return r;
    });
    const outs = await withTimeout(Promise.all(recorders.map((r) => r.done)), 10_000, 'queued requests');
    expect(outs.map((o) => o.body.toString())).toEqual(['/1', '/2', '/3', '/4']);
    expect(server.requests.map((r) => r.head.split(' ')[1])).toEqual(['/1', '/2', '/3', '/4']);
    expect(server.connections).toBe(1);
  });

  it('an aborted queued request leaves the queue; the others still run', async () => {
    const server = await startRaw(async (_req, socket) => {
      await pause(20);
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
    });
    const agent = agentFor(server.origin, { connections: 1 });
    const first = new Recorder();
    const queued = new Recorder();
    const last = new Recorder();
    agent.dispatch({ method: 'GET', path: '/first' }, first);
    agent.dispatch({ method: 'GET', path: '/queued' }, queued);
    agent.dispatch({ method: 'GET', path: '/last' }, last);
    queued.controller!.abort(new Error('not needed'));
    const outs = await withTimeout(Promise.all([first.done, queued.done, last.done]), 10_000, 'requests');
    expect(outs.map((o) => o.error?.message)).toEqual([undefined, 'not needed', undefined]);
    expect(server.requests.map((r) => r.head.split(' ')[1])).toEqual(['/first', '/last']);
  });

  it('close() waits for the exchange in flight; dispatch afterwards fails with UND_ERR_CLOSED', async () => {
    const server = await startRaw(async (_req, socket) => {
      await pause(30);
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\ndone');
    });
    const agent = createH1Agent({ origin: server.origin });
    const inFlight = new Recorder();
    agent.dispatch({ method: 'GET', path: '/' }, inFlight);
    await withTimeout(agent.close(), 5_000, 'close');
    expect((await inFlight.done).body.toString()).toBe('done');
    expect((await call(agent)).error?.code).toBe('UND_ERR_CLOSED');
  });
});

describe('errors and timeouts use undici codes', () => {
  it('connection refused → ECONNREFUSED', async () => {
    const out = await call(agentFor(`http://127.0.0.1:${await closedPort()}`));
    expect(out.error?.code).toBe('ECONNREFUSED');
    expect(out.calls).toEqual(['requestStart', 'error']);
  });

  it('connect timeout (TLS handshake never completes) → UND_ERR_CONNECT_TIMEOUT', async () => {
    const silent = await startSilentTcp();
    cleanups.push(() => silent.close());
    const out = await call(agentFor(`https://127.0.0.1:${silent.port}`, { connectTimeoutMs: 100 }));
    expect(out.error?.code).toBe('UND_ERR_CONNECT_TIMEOUT');
  });

  it('no complete head in time → UND_ERR_HEADERS_TIMEOUT (a trickled head does not extend it); 0 disables', async () => {
    const server = await startRaw(async (req, socket) => {
      if (req.connection === 1) await trickle(socket, 'HTTP/1.1 200 OK\r\nx-slow: 1234567890123456789012345678901234567890\r\n', 1);
      else {
        await pause(150);
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
      }
    });
    const out = await call(agentFor(server.origin), { headersTimeout: 40 });
    expect(out.error?.code).toBe('UND_ERR_HEADERS_TIMEOUT');
    expect(out.calls).toEqual(['requestStart', 'error']);
    const slow = await call(agentFor(server.origin), { headersTimeout: 0 });
    expect(slow.error).toBeUndefined();
    expect(slow.status).toBe(200);
  });

  it('no body data in time → UND_ERR_BODY_TIMEOUT after the response started; 0 disables', async () => {
    const server = await startRaw(async (req, socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello');
      if (req.connection === 2) {
        await pause(150);
        socket.write('world');
      }
    });
    const out = await call(agentFor(server.origin), { bodyTimeout: 50 });
    expect(out.error?.code).toBe('UND_ERR_BODY_TIMEOUT');
    expect(out.status).toBe(200);
    expect(out.calls).toEqual(['requestStart', 'responseStart', 'data', 'error']);
    const slow = await call(agentFor(server.origin), { bodyTimeout: 0 });
    expect(slow.body.toString()).toBe('helloworld');
  });

  it('a throwing handler ends the exchange with its error and the socket is destroyed', async () => {
    const server = await startRaw((_req, socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
    const agent = agentFor(server.origin);
    const thrower = new Recorder({
      start: () => {
        throw new Error('handler bug');
      },
    });
    const out = await call(agent, {}, thrower);
    expect(out.error?.message).toBe('handler bug');
    expect(out.calls).toEqual(['requestStart', 'responseStart', 'error']);
    await call(agent);
    expect(server.connections).toBe(2);
  });
});

describe('abort and backpressure', () => {
  it('abort mid-body destroys the socket and ends in onResponseError exactly once', async () => {
    let serverSawClose = false;
    const server = await startRaw((_req, socket) => {
      socket.on('close', () => {
        serverSawClose = true;
      });
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n6\r\nevent1\r\n');
      const timer = setInterval(() => socket.write('6\r\nevent2\r\n'), 5);
      socket.on('close', () => clearInterval(timer));
    });
    const reason = new Error('client went away');
    const recorder = new Recorder({
      data: (ctl) => {
        ctl.abort(reason);
        ctl.abort(new Error('second abort is ignored'));
      },
    });
    const out = await call(agentFor(server.origin), {}, recorder);
    expect(out.error).toBe(reason);
    expect(recorder.controller?.aborted).toBe(true);
    expect(recorder.controller?.reason).toBe(reason);
    await pause(30);
    expect(recorder.calls).toEqual(['requestStart', 'responseStart', 'data', 'error']);
    await eventually(() => serverSawClose, 'the upstream to see the socket close');
  });

  it('abort before the response (in onRequestStart) never connects', async () => {
    const server = await startRaw(() => {});
    const recorder = new Recorder();
    recorder.onRequestStart = (ctl: H1Controller) => {
      recorder.calls.push('requestStart');
      ctl.abort(new Error('gone already'));
    };
    const out = await call(agentFor(server.origin), {}, recorder);
    expect(out.error?.message).toBe('gone already');
    expect(server.connections).toBe(0);
  });

  it('pause() stops reading (the upstream stalls, the body timeout does not run); resume() delivers the rest', async () => {
    const TOTAL = 32 * 1024 * 1024;
    let sent = 0;
    let waitingDrain = false;
    const server = await startRaw(async (_req, socket) => {
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${TOTAL}\r\n\r\n`);
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      while (sent < TOTAL) {
        sent += chunk.length;
        if (!socket.write(chunk)) {
          waitingDrain = true;
          await once(socket, 'drain');
          waitingDrain = false;
        }
      }
    });
    let paused = false;
    const recorder = new Recorder({
      data: (ctl) => {
        if (!paused) {
          paused = true;
          ctl.pause();
        }
      },
    });
    const agent = agentFor(server.origin);
    agent.dispatch({ method: 'GET', path: '/', bodyTimeout: 100 }, recorder);
    let last = -1;
    let stable = 0;
    for (let i = 0; i < 100 && stable < 4; i++) {
      await pause(100);
      if (waitingDrain && sent === last) stable++;
      else stable = 0;
      last = sent;
    }
    expect(stable).toBe(4); // stalled for 300+ ms, longer than the 100 ms body timeout
    expect(sent).toBeLessThan(TOTAL);
    expect(recorder.controller?.paused).toBe(true);
    recorder.controller!.resume();
    const out = await withTimeout(recorder.done, 30_000, 'the rest of the body');
    expect(out.error).toBeUndefined();
    expect(out.body.length).toBe(TOTAL);
  });
});

describe('TLS', () => {
  let dir: string;
  let caPem: Buffer;
  let otherCaPem: Buffer;
  let server: ReturnType<typeof createHttpsServer>;
  let port = 0;
  const seen: { servername: string | false; alpn: string | false | null }[] = [];

  beforeAll(async () => {
    const run = promisify(execFile);
    dir = await mkdtemp(join(tmpdir(), 'h1-tls-'));
    const p = (name: string) => join(dir, name);
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    const ca = ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'];
    await run('openssl', ['req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '1', '-subj', '/CN=H1 Test CA', ...ca]);
    await run('openssl', ['req', '-x509', ...ec, '-keyout', p('other.key'), '-out', p('other.pem'), '-days', '1', '-subj', '/CN=Other CA', ...ca]);
    await run('openssl', ['req', '-new', ...ec, '-keyout', p('leaf.key'), '-out', p('leaf.csr'), '-subj', '/CN=localhost']);
    await writeFile(p('leaf.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
    await run('openssl', ['x509', '-req', '-in', p('leaf.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p('leaf.pem'), '-days', '1', '-extfile', p('leaf.ext')]);
    caPem = await readFile(p('ca.pem'));
    otherCaPem = await readFile(p('other.pem'));
    server = createHttpsServer({ key: await readFile(p('leaf.key')), cert: await readFile(p('leaf.pem')), ALPNProtocols: ['http/1.1'] }, (req, res) => {
      const socket = req.socket as TLSSocket;
      seen.push({ servername: (socket as TLSSocket & { servername: string | false }).servername, alpn: socket.alpnProtocol });
      res.end('secure ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  it('trusts a private CA; sends SNI for a host name, none for an IP; negotiates http/1.1', async () => {
    seen.length = 0;
    const byName = await call(agentFor(`https://localhost:${port}`, { tls: { ca: caPem } }));
    expect(byName.error).toBeUndefined();
    expect(byName.body.toString()).toBe('secure ok');
    const byIp = await call(agentFor(`https://127.0.0.1:${port}`, { tls: { ca: [caPem] } }));
    expect(byIp.body.toString()).toBe('secure ok');
    expect(seen).toEqual([
      { servername: 'localhost', alpn: 'http/1.1' },
      { servername: false, alpn: 'http/1.1' },
    ]);
  });

  it('reuses the TLS connection for keep-alive requests', async () => {
    const agent = agentFor(`https://127.0.0.1:${port}`, { tls: { ca: caPem } });
    let connections = 0;
    const count = () => connections++;
    server.on('secureConnection', count);
    try {
      for (let i = 0; i < 3; i++) expect((await call(agent)).body.toString()).toBe('secure ok');
    } finally {
      server.off('secureConnection', count);
    }
    expect(connections).toBe(1);
  });

  it("a certificate from another CA fails with node's certificate verification code", async () => {
    const out = await call(agentFor(`https://127.0.0.1:${port}`, { tls: { ca: otherCaPem } }));
    // OpenSSL's verify result for a leaf whose issuer is not trusted.
    expect(out.error?.code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(out.calls).toEqual(['requestStart', 'error']);
  });

  it('rejectUnauthorized: false accepts it anyway (an explicit choice of the caller)', async () => {
    const out = await call(agentFor(`https://127.0.0.1:${port}`, { tls: { rejectUnauthorized: false } }));
    expect(out.body.toString()).toBe('secure ok');
  });
});
