import { once } from 'node:events';
import { mkdir, rm } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import net, { type AddressInfo, type Socket } from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { EgressRule } from '@openshell/core';
import {
  type Destination,
  decideEgress,
  formatDestination,
  INFERENCE_HOST,
  isInferenceHost,
  parseAbsoluteTarget,
  parseConnectTarget,
  parseHostHeader,
} from './egress-policy.js';
import { DEFAULT_MAX_REQUEST_BODY_BYTES } from '@openshell/router';
import { type LeanFrontOptions, type LeanRequest, type LeanResponse, serveLean } from './lean-relay.js';
import type { Logger } from './logger.js';
import type { ProxyAuth } from './proxy-auth.js';
import type { SandboxCa } from './sandbox-ca.js';

/** How an inference request reached the proxy. */
export interface InferenceRequestContext {
  /** `https` when TLS was terminated by the proxy, else `http`. */
  readonly scheme: 'http' | 'https';
  /** Origin-form path with its query string, e.g. `/v1/messages?beta=true`. */
  readonly path: string;
}

/** Serves one request addressed to `inference.local`; must always answer `res`. */
export type InferenceRequestHandler = (req: IncomingMessage, res: ServerResponse, ctx: InferenceRequestContext) => Promise<void>;

/** Options of {@link createProxyServer}. */
export interface ProxyServerOptions {
  readonly auth: ProxyAuth;
  readonly ca: SandboxCa;
  /** The current egress allow-list (read on every CONNECT, so bundle updates apply at once). */
  readonly egress: () => readonly EgressRule[];
  readonly handleInference: InferenceRequestHandler;
  /**
   * Serves inference requests read by the lean HTTP/1.1 front (see lean-relay.ts). When given, every
   * connection starts on the lean front and moves to node:http at the first request outside its strict
   * subset; when absent, node:http serves everything.
   */
  readonly handleInferenceLean?: (req: LeanRequest, res: LeanResponse, ctx: InferenceRequestContext) => Promise<void>;
  /** Request bodies above this take the node:http path, which answers 413 (default: the router's bound). */
  readonly maxRequestBodyBytes?: number;
  readonly log: Logger;
  /** Connect timeout for allowed egress tunnels; default 10 s. */
  readonly tunnelConnectTimeoutMs?: number;
}

/** The egress proxy of one supervisor run. */
export interface ProxyServer {
  /** Listens on a loopback TCP port (0 = any free port). */
  listenTcp(host?: string, port?: number): Promise<{ host: string; port: number }>;
  /** Listens on `proxy.sock` and `http.sock` in `dir` (created 0700) for the relay. */
  listenUnix(dir: string): Promise<{ proxySocket: string; httpSocket: string }>;
  /** Stops listening and destroys every open connection and tunnel. */
  close(): Promise<void>;
}

/** First line a relay sends on every Unix-socket connection: `OPENSHELL-RELAY <nonce>\n`. */
export const RELAY_PREAMBLE = 'OPENSHELL-RELAY';
const MAX_PREAMBLE_BYTES = 128;
const PREAMBLE_TIMEOUT_MS = 5_000;
const KEEP_ALIVE_TIMEOUT_MS = 30_000;
/** node:http's default `requestTimeout` is 300 s and `headersTimeout` 60 s; the lean front uses the latter for head and body. */
const LEAN_REQUEST_TIMEOUT_MS = 60_000;
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

function jsonBody(code: string, message: string, extra: Record<string, string> = {}): string {
  return JSON.stringify({ error: { code, message, ...extra } });
}

/** Writes a complete HTTP/1.1 response on a raw socket (CONNECT path) and closes it. */
function rawReply(socket: Duplex, status: number, reason: string, body: string, headers: Record<string, string> = {}): void {
  if (socket.destroyed) return;
  const lines = [
    `HTTP/1.1 ${status} ${reason}`,
    'content-type: application/json',
    `content-length: ${Buffer.byteLength(body)}`,
    'connection: close',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}

/** Answers on a request/response pair, closing the connection so nothing can follow on it. */
function reply(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close', ...headers });
  res.end(body);
}

/**
 * Creates the egress proxy: absolute-URI requests and `CONNECT`, the per-run secret checked on every
 * request, `inference.local` (http and TLS-terminated https) handed to the inference handler,
 * `CONNECT` to allow-listed host:port tunnelled untouched, everything else 403 with a JSON reason
 * and a log line naming the destination. Checks run per request, so a kept-alive connection never
 * lets a later request through unchecked.
 */
export async function createProxyServer(options: ProxyServerOptions): Promise<ProxyServer> {
  const { auth, log } = options;
  const leaf = await options.ca.leafFor(INFERENCE_HOST);
  const sockets = new Set<Duplex>();
  /** Connections that came through the relay's Unix socket after its preamble: already authenticated. */
  const relayed = new WeakSet<object>();
  const track = (s: Duplex) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };

  const deny = (dest: string, reason: string, via: string) => {
    log.warn('egress denied', { destination: dest, via, reason });
  };

  /** Requests on a connection whose only legitimate destination is inference.local. */
  const serveInferenceOnly = (scheme: 'http' | 'https') => (req: IncomingMessage, res: ServerResponse) => {
    const target = req.url ?? '';
    const absolute = parseAbsoluteTarget(target);
    const host = absolute ?? parseHostHeader(req.headers.host, scheme === 'https' ? 443 : 80);
    if (host === undefined || !isInferenceHost(host.host)) {
      const dest = host === undefined ? '(no host)' : formatDestination(host);
      deny(dest, 'this connection serves inference.local only', scheme === 'https' ? 'tls:inference.local' : 'http:inference.local');
      reply(res, 403, jsonBody('egress_denied', `this connection serves ${INFERENCE_HOST} only; ${dest} is not reachable through it`, { destination: dest }));
      return;
    }
    const path = absolute?.path ?? (target.startsWith('/') ? target : undefined);
    if (path === undefined) {
      reply(res, 400, jsonBody('bad_request', 'request target must be an absolute path'));
      return;
    }
    void runInference(req, res, { scheme, path });
  };

  const runInference = async (req: IncomingMessage, res: ServerResponse, ctx: InferenceRequestContext) => {
    try {
      await options.handleInference(req, res, ctx);
    } catch (err) {
      log.error('inference handler failed', { path: ctx.path.split('?')[0], error: err instanceof Error ? err.message : String(err) });
      if (!res.headersSent) reply(res, 502, JSON.stringify({ type: 'error', error: { type: 'api_error', message: 'the sandbox proxy failed to forward this request' } }));
      else res.destroy();
    }
  };

  const configure = (server: http.Server) => {
    server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    server.on('connection', track);
    server.on('clientError', (_err, socket) => {
      if (socket.writable) rawReply(socket, 400, 'Bad Request', jsonBody('bad_request', 'malformed HTTP request'));
      else socket.destroy();
    });
    return server;
  };

  const inferenceHttps = configure(
    https.createServer({ cert: leaf.certChainPem, key: leaf.keyPem, ALPNProtocols: ['http/1.1'] }, serveInferenceOnly('https')),
  );
  inferenceHttps.on('tlsClientError', (err) => log.debug('TLS handshake with a sandbox client failed', { error: err.message }));
  const inferenceHttp = configure(http.createServer(serveInferenceOnly('http')));

  /**
   * The Proxy-Authorization value last verified on each kept-alive socket: the same value on a later
   * request of that socket skips the hashing; any other value (or none) is checked again.
   */
  const verified = new WeakMap<object, string>();
  const socketAuthorized = (socket: object, header: string | string[] | undefined) => {
    if (relayed.has(socket)) return true;
    if (typeof header === 'string' && verified.get(socket) === header) return true;
    if (!auth.check(header)) return false;
    if (typeof header === 'string') verified.set(socket, header);
    return true;
  };
  const authorized = (req: IncomingMessage) => socketAuthorized(req.socket, req.headers['proxy-authorization']);

  const proxyHttp = configure(http.createServer((req, res) => {
    if (!authorized(req)) {
      log.warn('proxy request without the run secret refused', { via: 'http' });
      reply(res, 407, jsonBody('proxy_auth_required', 'this proxy needs the per-run secret: use the proxy URL from HTTP_PROXY as given'), {
        'proxy-authenticate': 'Basic realm="openshell-sandbox"',
      });
      return;
    }
    const target = parseAbsoluteTarget(req.url ?? '');
    if (target === undefined) {
      reply(res, 400, jsonBody('bad_request', 'this is a forward proxy: send absolute-URI requests (http://host/path) or CONNECT'));
      return;
    }
    const dest = formatDestination(target);
    if (target.scheme === 'http' && isInferenceHost(target.host) && target.port === 80) {
      void runInference(req, res, { scheme: 'http', path: target.path });
      return;
    }
    const reason = isInferenceHost(target.host)
      ? `${INFERENCE_HOST} is served on port 80 (http) and 443 (https) only`
      : `plain-HTTP requests to ${dest} are not forwarded; only ${INFERENCE_HOST} and CONNECT tunnels to allow-listed hosts leave the sandbox`;
    deny(dest, reason, 'http');
    reply(res, 403, jsonBody('egress_denied', reason, { destination: dest }));
  }));

  proxyHttp.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    track(socket);
    socket.on('error', () => socket.destroy());
    if (!authorized(req)) {
      log.warn('proxy request without the run secret refused', { via: 'connect' });
      rawReply(socket, 407, 'Proxy Authentication Required', jsonBody('proxy_auth_required', 'this proxy needs the per-run secret: use the proxy URL from HTTPS_PROXY as given'), {
        'proxy-authenticate': 'Basic realm="openshell-sandbox"',
      });
      return;
    }
    const dest = parseConnectTarget(req.url ?? '');
    if (dest === undefined) {
      rawReply(socket, 400, 'Bad Request', jsonBody('bad_request', 'CONNECT target must be host:port'));
      return;
    }
    if (isInferenceHost(dest.host) && (dest.port === 443 || dest.port === 80)) {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) socket.unshift(head);
      // The inner servers terminate TLS (443) and serve inference.local only.
      if (dest.port === 443) {
        if (terminateTls === undefined) inferenceHttps.emit('connection', socket);
        else terminateTls(socket as Socket);
      } else if (leanOriginHttp === undefined) inferenceHttp.emit('connection', socket);
      else serveLean(socket as Socket, leanOriginHttp);
      return;
    }
    const decision = isInferenceHost(dest.host)
      ? ({ allowed: false, reason: `${INFERENCE_HOST} is served on port 80 and 443 only` } as const)
      : decideEgress(dest, options.egress());
    if (!decision.allowed) {
      deny(formatDestination(dest), decision.reason, 'connect');
      rawReply(socket, 403, 'Forbidden', jsonBody('egress_denied', decision.reason, { destination: formatDestination(dest) }));
      return;
    }
    tunnel(socket, dest, head);
  });

  const tunnel = (client: Duplex, dest: Destination, head: Buffer) => {
    const upstream = net.connect({ host: dest.host, port: dest.port });
    track(upstream);
    upstream.setTimeout(options.tunnelConnectTimeoutMs ?? 10_000);
    let established = false;
    upstream.once('timeout', () => {
      if (!established) upstream.destroy(new Error('connect timeout'));
    });
    upstream.once('connect', () => {
      established = true;
      upstream.setTimeout(0);
      log.debug('egress tunnel opened', { destination: formatDestination(dest) });
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    upstream.on('error', (err) => {
      if (!established) {
        log.warn('egress tunnel failed', { destination: formatDestination(dest), error: err.message });
        rawReply(client, 502, 'Bad Gateway', jsonBody('upstream_unreachable', `could not connect to ${formatDestination(dest)}: ${err.message}`));
      } else client.destroy();
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  };

  /** The lean front's settings for one kind of connection; undefined when it is off. */
  const handleLean = options.handleInferenceLean;
  const leanFront = (mode: 'proxy' | 'origin', scheme: 'http' | 'https', fallbackServer: http.Server): LeanFrontOptions | undefined =>
    handleLean === undefined
      ? undefined
      : {
          mode,
          scheme,
          maxBodyBytes: options.maxRequestBodyBytes ?? DEFAULT_MAX_REQUEST_BODY_BYTES,
          keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS,
          requestTimeoutMs: LEAN_REQUEST_TIMEOUT_MS,
          ...(mode === 'proxy' ? { authorize: socketAuthorized } : {}),
          handle: (req, res) => handleLean(req, res, { scheme, path: req.path }),
          fallback: (s) => fallbackServer.emit('connection', s),
        };
  const leanProxy = leanFront('proxy', 'http', proxyHttp);
  const leanOriginHttp = leanFront('origin', 'http', inferenceHttp);

  /**
   * With the lean front on, TLS to inference.local is terminated by a bare `tls.Server` whose clear
   * stream goes to the lean front; a node:http server takes over what the front hands off.
   */
  let terminateTls: ((socket: Socket) => void) | undefined;
  if (handleLean !== undefined) {
    const leanOriginHttps = leanFront('origin', 'https', configure(http.createServer(serveInferenceOnly('https')))) as LeanFrontOptions;
    const leanTls = tls.createServer(
      { cert: leaf.certChainPem, key: leaf.keyPem, ALPNProtocols: ['http/1.1'], handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS },
      (secure) => {
        track(secure);
        serveLean(secure, leanOriginHttps);
      },
    );
    leanTls.on('tlsClientError', (err) => log.debug('TLS handshake with a sandbox client failed', { error: err.message }));
    terminateTls = (socket) => leanTls.emit('connection', socket);
  }

  /** The forward-proxy port: the lean front first (when on), node:http for everything it hands off. */
  const proxyFront =
    leanProxy === undefined
      ? proxyHttp
      : net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
          track(socket);
          serveLean(socket, leanProxy);
        });

  const tcpServers: net.Server[] = [proxyFront];
  const unixServers: net.Server[] = [];
  let unixDir: string | undefined;

  /** Accepts a relay connection: checks the preamble, then hands the rest of the stream to `target`. */
  const relayListener = (target: http.Server) => (socket: Socket) => {
    track(socket);
    socket.on('error', () => socket.destroy());
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), PREAMBLE_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const nl = buffered.indexOf(0x0a);
      if (nl === -1) {
        if (buffered.length > MAX_PREAMBLE_BYTES) socket.destroy();
        return;
      }
      socket.off('data', onData);
      clearTimeout(timer);
      const line = buffered.subarray(0, nl).toString('latin1');
      const rest = buffered.subarray(nl + 1);
      const [word, nonce] = line.split(' ');
      if (word !== RELAY_PREAMBLE || nonce === undefined || !auth.checkNonce(nonce)) {
        log.warn('relay connection with a wrong preamble refused');
        socket.destroy();
        return;
      }
      relayed.add(socket);
      socket.pause();
      if (rest.length > 0) socket.unshift(rest);
      const front = target === proxyHttp ? leanProxy : leanOriginHttp;
      if (front === undefined) target.emit('connection', socket);
      else serveLean(socket, front);
      socket.resume();
    };
    socket.on('data', onData);
  };

  return {
    async listenTcp(host = '127.0.0.1', port = 0) {
      proxyFront.listen(port, host);
      await once(proxyFront, 'listening');
      const addr = proxyFront.address() as AddressInfo;
      return { host: addr.address, port: addr.port };
    },
    async listenUnix(dir) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      unixDir = dir;
      const proxySocket = join(dir, 'proxy.sock');
      const httpSocket = join(dir, 'http.sock');
      for (const [path, target] of [
        [proxySocket, proxyHttp],
        [httpSocket, inferenceHttp],
      ] as const) {
        await rm(path, { force: true });
        const server = net.createServer(relayListener(target));
        server.listen(path);
        await once(server, 'listening');
        unixServers.push(server);
      }
      return { proxySocket, httpSocket };
    },
    async close() {
      for (const s of sockets) s.destroy();
      const servers = [...tcpServers, ...unixServers].filter((s) => s.listening);
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      for (const s of sockets) s.destroy();
      if (unixDir !== undefined) {
        await rm(join(unixDir, 'proxy.sock'), { force: true });
        await rm(join(unixDir, 'http.sock'), { force: true });
      }
    },
  };
}
