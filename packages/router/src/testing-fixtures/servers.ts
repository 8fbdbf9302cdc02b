import { createHash } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer, request as httpRequest } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { connect, createServer as createTcpServer } from 'node:net';
import type { BundleRoute } from '@openshell/core';
import type { ForwardOptions, ForwardResult, Forwarder } from '../forwarder.js';

/** A request as the fake upstream received it. */
export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
}

/** A running loopback HTTP server. */
export interface TestServer {
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  /** Every request received, in order (recorded once its body is read). */
  readonly requests: RecordedRequest[];
  /** TCP connections accepted. */
  connections: number;
  close(): Promise<void>;
}

/** Reads a whole request body. */
export function readAll(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Starts a loopback HTTP server on port 0 whose handler sees the recorded request. */
export async function startUpstream(
  handler: (req: IncomingMessage, res: ServerResponse, recorded: RecordedRequest) => void | Promise<void>,
): Promise<TestServer> {
  const requests: RecordedRequest[] = [];
  return listen(async (req, res) => {
    const body = await readAll(req);
    const recorded = { method: req.method ?? '', url: req.url ?? '', rawHeaders: [...req.rawHeaders], body };
    requests.push(recorded);
    try {
      await handler(req, res, recorded);
    } catch (err) {
      if (!res.headersSent) res.writeHead(500).end(String(err));
      else res.destroy();
    }
  }, requests);
}

/** Starts a loopback server in front of a forwarder: the "supervisor" side of a test. */
export async function startRouter(
  forwarder: Forwarder,
  route: () => BundleRoute,
  options: { onRequest?: (req: IncomingMessage) => void; forwardOptions?: ForwardOptions } = {},
): Promise<TestServer & { results: ForwardResult[]; waitForResult(pred: (r: ForwardResult) => boolean): Promise<ForwardResult> }> {
  const results: ForwardResult[] = [];
  const ts = await listen(async (req, res) => {
    options.onRequest?.(req);
    results.push(await forwarder.forward(req, res, route(), options.forwardOptions));
  });
  return Object.assign(ts, {
    results,
    /** Polls (bounded) for a forward result matching `pred`. */
    waitForResult: async (pred: (r: ForwardResult) => boolean) => {
      for (let i = 0; i < 200; i++) {
        const found = results.find(pred);
        if (found) return found;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error('timed out waiting for a matching forward result');
    },
  });
}

/** Listens on 127.0.0.1 port 0; the handler owns each request (body unread); close() ends open connections. */
async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>,
  requests: RecordedRequest[] = [],
): Promise<TestServer> {
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => void handler(req, res));
  const ts: TestServer = {
    url: '',
    port: 0,
    server,
    requests,
    connections: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  server.on('connection', (s: Socket) => {
    ts.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(ts, { url: `http://127.0.0.1:${port}`, port });
}

/** A TCP server that accepts connections and never says a word (TLS handshakes to it hang). */
export async function startSilentTcp(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A loopback port with nothing listening (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A raw HTTP/1.1 exchange over a socket: full control of header lines, case and duplicates. */
export interface RawResponse {
  readonly status: number;
  readonly head: string;
  readonly body: string;
}

/** Sends raw bytes and reads until the server closes the connection (send `Connection: close`). */
export function rawRequest(port: number, bytes: string | Buffer): Promise<RawResponse> {
  return withTimeout(
    new Promise<RawResponse>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      const chunks: Buffer[] = [];
      socket.on('data', (c) => chunks.push(c));
      socket.on('error', reject);
      socket.on('close', () => {
        const text = Buffer.concat(chunks).toString('latin1');
        const split = text.indexOf('\r\n\r\n');
        const head = split === -1 ? text : text.slice(0, split);
        resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), head, body: split === -1 ? '' : text.slice(split + 4) });
      });
      socket.write(bytes);
    }),
    10_000,
    'raw request',
  );
}

/** Rejects when a promise does not settle in time: every wait in these tests is bounded. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    }),
  ]);
}

/** sha256 hex of bytes. */
export function sha256(buf: Buffer | string): string {
  return createHash('sha256').update(buf).digest('hex');
}

/** A buffered response seen by a test client. */
export interface ClientResponse {
  readonly status: number;
  readonly statusText: string;
  readonly rawHeaders: readonly string[];
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

/** A plain node:http client call (its own connection), bounded in time. */
export function send(
  baseUrl: string,
  opts: { method?: string; path: string; headers?: Record<string, string | string[]>; body?: string | Buffer },
): Promise<ClientResponse> {
  const url = new URL(opts.path, baseUrl);
  return withTimeout(
    new Promise<ClientResponse>((resolve, reject) => {
      const req = httpRequest(
        url,
        { method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'), headers: opts.headers ?? {}, agent: false },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              statusText: res.statusMessage ?? '',
              rawHeaders: res.rawHeaders,
              headers: res.headers,
              body: Buffer.concat(chunks),
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(opts.body);
    }),
    15_000,
    `response to ${opts.path}`,
  );
}
