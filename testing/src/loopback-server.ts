import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One HTTP request as a fake received it, byte for byte, for assertions. */
export interface RecordedRequest {
  /** Position in the fake's log, starting at 0 (reset() restarts it). */
  readonly index: number;
  readonly method: string;
  /** Request target as received (path and query). */
  readonly url: string;
  /** Path without the query string. */
  readonly path: string;
  /** Header lines in arrival order with their original case; repeated lines stay separate. */
  readonly rawHeaders: ReadonlyArray<readonly [string, string]>;
  /** Body bytes exactly as received. */
  readonly body: Buffer;
  /** Hex sha256 of `body`. */
  readonly bodySha256: string;
  /** `Date.now()` when the body was complete. */
  readonly receivedAt: number;
  /** Status the fake answered with (undefined while pending, or when it hung or reset the connection). */
  status?: number;
}

/** All values of header `name` (case-insensitive), one per header line, in arrival order. */
export function headerValues(request: Pick<RecordedRequest, 'rawHeaders'>, name: string): string[] {
  const wanted = name.toLowerCase();
  return request.rawHeaders.filter(([key]) => key.toLowerCase() === wanted).map(([, value]) => value);
}

/** The header `name` (case-insensitive); repeated lines are joined with ", " as HTTP allows. */
export function headerValue(request: Pick<RecordedRequest, 'rawHeaders'>, name: string): string | undefined {
  const values = headerValues(request, name);
  return values.length === 0 ? undefined : values.join(', ');
}

/** The body parsed as JSON, or undefined when it is not JSON. */
export function jsonBody(request: Pick<RecordedRequest, 'body'>): unknown {
  try {
    return JSON.parse(request.body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** A started loopback server with its base URL and a close that ends every open connection. */
export interface LoopbackServer {
  readonly server: Server;
  /** `http://127.0.0.1:<port>` (no trailing slash). */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Handler given a fully read request body. */
export type LoopbackHandler = (
  request: IncomingMessage,
  response: ServerResponse,
  recorded: RecordedRequest,
) => void | Promise<void>;

/** Limit on a recorded body so a runaway client cannot exhaust memory. */
const MAX_BODY_BYTES = 32 * 1024 * 1024;

/**
 * Starts a node:http server on 127.0.0.1 port 0 that reads each body completely, records it,
 * then calls `handler`. Hung requests are ended by close().
 */
export async function startLoopbackServer(
  handler: LoopbackHandler,
  onRecord: (partial: Omit<RecordedRequest, 'index'>) => RecordedRequest,
): Promise<LoopbackServer> {
  const sockets = new Set<Socket>();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('error', () => undefined);
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const rawHeaders: Array<readonly [string, string]> = [];
      for (let i = 0; i + 1 < request.rawHeaders.length; i += 2) {
        rawHeaders.push([request.rawHeaders[i]!, request.rawHeaders[i + 1]!]);
      }
      const url = request.url ?? '/';
      const queryAt = url.indexOf('?');
      const recorded = onRecord({
        method: request.method ?? 'GET',
        url,
        path: queryAt === -1 ? url : url.slice(0, queryAt),
        rawHeaders,
        body,
        bodySha256: createHash('sha256').update(body).digest('hex'),
        receivedAt: Date.now(),
      });
      Promise.resolve(handler(request, response, recorded)).catch((error: unknown) => {
        if (!response.headersSent) {
          response.writeHead(500, { 'content-type': 'text/plain' });
          response.end(`fake server handler failed: ${String(error)}`);
        } else {
          response.destroy();
        }
      });
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** Sends a JSON answer with an exact Content-Length. */
export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const bytes = Buffer.from(JSON.stringify(body));
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(bytes.length),
    ...headers,
  });
  response.end(bytes);
}

/** Resolves after `ms` milliseconds (0 yields one macrotask). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
