import type { IncomingMessage } from 'node:http';
import type { BundleRoute, Protocol } from '@openshell/core';
import { type Dispatcher, Pool } from 'undici';
import { type CompiledRoute, compileRoute } from './compiled-route.js';
import { type ErrorShape, errorBody, errorShapeFor, sseErrorFrame } from './error-response.js';
import { RouterError } from './errors.js';
import { type H1Agent, type H1DispatchOptions, createH1Agent } from './h1-pool.js';
import { filterResponseHeaders } from './header-policy.js';
import { type ClientRequest, type UpstreamRequest, checkTarget, prepareChecked, prepareUpstreamRequest } from './upstream-request.js';

/** Default bound on a client request body (Anthropic's own Messages limit is 32 MB). */
export const DEFAULT_MAX_REQUEST_BODY_BYTES = 32 * 1024 * 1024;
/** Default bound on an upstream 401 body held while a fresh credential is fetched. */
export const DEFAULT_MAX_HELD_RESPONSE_BYTES = 64 * 1024;
/** Default bound on a buffered probe response. */
export const DEFAULT_MAX_PROBE_RESPONSE_BYTES = 1024 * 1024;

/**
 * A credential hook's refusal: the caller knows no fresh credential will come without a person (for
 * example the gateway's refresh state is `reauth_required`). The client gets a `reauth_required` error
 * in the protocol's shape carrying `message` (which must be secret-free and should name the fix),
 * instead of the upstream's raw 401 or a generic expiry error.
 */
export interface CredentialRefusal {
  readonly refuse: { readonly message: string };
}

/** What a credential hook answers: a fresh route, a refusal, or undefined for "nothing new". */
export type RouteRefreshAnswer = BundleRoute | CredentialRefusal | undefined;

/** A caller hook that may supply a fresh route (for example after asking the gateway). */
export type RouteRefreshHook = (route: BundleRoute) => RouteRefreshAnswer | Promise<RouteRefreshAnswer>;

function isRefusal(answer: RouteRefreshAnswer): answer is CredentialRefusal {
  return answer !== undefined && 'refuse' in answer;
}

function refusalError(route: BundleRoute, refusal: CredentialRefusal): RouterError {
  return new RouterError('reauth_required', `provider '${route.providerName}' needs re-authorization: ${refusal.refuse.message}`);
}

/** Settings of {@link createForwarder}. */
export interface ForwarderSettings {
  /** Bound on a client request body; larger bodies get 413. The body is held whole (for model pinning and the 401 retry). */
  readonly maxRequestBodyBytes?: number;
  /** Bound on an upstream 401 body held while `onCredentialRejected` runs. */
  readonly maxHeldResponseBytes?: number;
  /**
   * Called when the upstream answers 401 to a route whose credential is refreshable. A returned route
   * is used to retry the request once, with the held body; `undefined` relays the 401 as it came.
   */
  readonly onCredentialRejected?: RouteRefreshHook;
  /** Called when a route's credential is past `expiresAt`; a returned route that is not expired is used, otherwise the request fails with `credential_expired`. */
  readonly onCredentialExpired?: RouteRefreshHook;
  /** Bound on each credential hook call; a hook that does not answer in time counts as "no fresh route" (default 10 s). */
  readonly hookTimeoutMs?: number;
  /** Clock in epoch milliseconds (tests). */
  readonly now?: () => number;
  /** Idle keep-alive time of pooled upstream connections (default 30 s). */
  readonly keepAliveTimeoutMs?: number;
  /** Connections per upstream origin (default unlimited). */
  readonly connectionsPerOrigin?: number;
  /** Extra TLS options for upstream connections (a private CA, for example). */
  readonly tls?: { readonly ca?: string | Buffer | readonly (string | Buffer)[]; readonly rejectUnauthorized?: boolean };
  /**
   * Upstream transport of `forward` and `forwardBuffered`: `'undici'` (default) or `'h1'`, the router's
   * own HTTP/1.1 client over raw sockets (`createH1Agent`), which costs less CPU per request. Same
   * pooling settings, timeouts and error codes either way; `request` (probes) always uses undici.
   */
  readonly transport?: 'undici' | 'h1';
}

/** Per-call options of {@link Forwarder.forward}. */
export interface ForwardOptions {
  /** The protocol, when the caller already detected it. */
  readonly protocol?: Protocol;
  /** Request target to use instead of `req.url` (for example after the caller rewrote an absolute URI). */
  readonly target?: string;
}

/** What happened to one forwarded request (for the caller's logs and metrics). */
export interface ForwardResult {
  /** Status sent to the client; 0 when the client went away before a status was sent. */
  readonly status: number;
  /** Upstream requests made (2 after a credential retry). */
  readonly attempts: number;
  /** The router's own error, when there was one (already answered to the client). */
  readonly error?: RouterError;
  /** The route of the last attempt (a fresh one after a credential hook). */
  readonly route: BundleRoute;
}

/** Input of {@link Forwarder.request}, the buffered call used by verification probes. */
export interface ProbeRequest {
  readonly method: string;
  readonly target: string;
  /** Client-side headers, subject to the same policy as a sandbox client's. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Buffer | string;
  /** Bound on the response body (default 1 MiB). */
  readonly maxResponseBytes?: number;
}

/** A buffered upstream response. */
export interface ProbeResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

/**
 * Where the forwarder writes its answer: the part of `http.ServerResponse` it uses, so a caller with
 * its own HTTP/1.1 writer (the supervisor's lean relay) can pass that instead.
 */
export interface ResponseSink {
  readonly headersSent: boolean;
  readonly destroyed: boolean;
  readonly writableEnded: boolean;
  readonly writableFinished: boolean;
  writeHead(statusCode: number, headers: string[]): unknown;
  writeHead(statusCode: number, statusText: string, headers: string[]): unknown;
  /** Sends the status line and headers now (event streams). */
  flushHeaders(): void;
  write(chunk: Buffer): boolean;
  end(chunk?: Buffer | string): unknown;
  destroy(): unknown;
  once(event: 'close' | 'drain', listener: () => void): unknown;
  off(event: 'close' | 'drain', listener: () => void): unknown;
}

/** A client request whose body the caller has already read whole (see {@link Forwarder.forwardBuffered}). */
export interface BufferedRequest {
  readonly method: string;
  /** Origin-form or absolute-form request target. */
  readonly target: string;
  /** `[name, value, …]` exactly as received. */
  readonly rawHeaders: readonly string[];
  /** The whole body, or undefined for none; the caller enforces `maxRequestBodyBytes`. */
  readonly body: Buffer | undefined;
}

/** Forwards client requests to a route's upstream over pooled keep-alive connections. */
export interface Forwarder {
  /** Forwards one request and streams the answer to `res`; never rejects (errors are answered in the protocol's shape). */
  forward(req: IncomingMessage, res: ResponseSink, route: BundleRoute, options?: ForwardOptions): Promise<ForwardResult>;
  /** {@link forward} for a request whose body is already in memory; never rejects. */
  forwardBuffered(input: BufferedRequest, res: ResponseSink, route: BundleRoute, options?: Pick<ForwardOptions, 'protocol'>): Promise<ForwardResult>;
  /** Sends one request and buffers the answer (gateway verification probes); throws RouterError. */
  request(route: BundleRoute, input: ProbeRequest): Promise<ProbeResponse>;
  /** Closes every pooled connection. */
  close(): Promise<void>;
}

type Outcome =
  | { kind: 'relayed'; status: number; error?: RouterError }
  | { kind: 'held401'; statusText: string | undefined; headers: string[]; body: Buffer }
  | { kind: 'error'; error: RouterError }
  | { kind: 'gone'; status: number };

const clientGoneError = () => new RouterError('client_disconnected', 'the client closed the connection; the upstream request was aborted');

/** Maps a transport error to the router's error for a route (no undici text reaches the client). */
export function toRouterError(err: unknown, route: Pick<BundleRoute, 'name' | 'timeouts'>): RouterError {
  if (RouterError.isRouterError(err)) return err;
  const code = typeof err === 'object' && err !== null ? String((err as { code?: unknown }).code ?? '') : '';
  const name = route.name;
  const tlsFailed = () =>
    new RouterError('upstream_connect_failed', `TLS with the upstream of route '${name}' failed (${code}); check the provider's base URL and certificates`, { cause: err });
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return new RouterError(
        'upstream_connect_timeout',
        `could not connect to the upstream of route '${name}' within ${route.timeouts.connectMs} ms (connect timeout)`,
        { cause: err },
      );
    case 'UND_ERR_HEADERS_TIMEOUT':
      return new RouterError(
        'upstream_first_byte_timeout',
        `the upstream of route '${name}' sent no response within ${route.timeouts.firstByteMs} ms (first-byte timeout); retry, or raise the route timeout with openshell inference set --timeout`,
        { cause: err },
      );
    case 'UND_ERR_BODY_TIMEOUT':
      return new RouterError(
        'upstream_idle_timeout',
        `the upstream of route '${name}' sent nothing for ${route.timeouts.idleMs} ms in the middle of its response (idle timeout); the response is incomplete`,
        { cause: err },
      );
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return new RouterError('upstream_connect_failed', `could not connect to the upstream of route '${name}' (${code}); check the provider's base URL and network reachability`, {
        cause: err,
      });
    // Node's X.509 verification codes (https://nodejs.org/api/tls.html#x509-certificate-error-codes):
    // OpenSSL's verify results, several of which name no CERT (an untrusted issuer is
    // UNABLE_TO_VERIFY_LEAF_SIGNATURE). Listed whole so none of them reads as a mid-response failure.
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_CRL':
    case 'UNABLE_TO_DECRYPT_CERT_SIGNATURE':
    case 'UNABLE_TO_DECRYPT_CRL_SIGNATURE':
    case 'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY':
    case 'CERT_SIGNATURE_FAILURE':
    case 'CRL_SIGNATURE_FAILURE':
    case 'CERT_NOT_YET_VALID':
    case 'CERT_HAS_EXPIRED':
    case 'CRL_NOT_YET_VALID':
    case 'CRL_HAS_EXPIRED':
    case 'ERROR_IN_CERT_NOT_BEFORE_FIELD':
    case 'ERROR_IN_CERT_NOT_AFTER_FIELD':
    case 'ERROR_IN_CRL_LAST_UPDATE_FIELD':
    case 'ERROR_IN_CRL_NEXT_UPDATE_FIELD':
    case 'OUT_OF_MEM':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'CERT_CHAIN_TOO_LONG':
    case 'CERT_REVOKED':
    case 'INVALID_CA':
    case 'PATH_LENGTH_EXCEEDED':
    case 'INVALID_PURPOSE':
    case 'CERT_UNTRUSTED':
    case 'CERT_REJECTED':
    case 'HOSTNAME_MISMATCH':
      return tlsFailed();
    default:
      // Node's own TLS/OpenSSL errors (ERR_TLS_CERT_ALTNAME_INVALID, ERR_SSL_WRONG_VERSION_NUMBER, …)
      // and any further certificate code.
      if (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || code.includes('CERT')) return tlsFailed();
      return new RouterError('upstream_failed', `the connection to the upstream of route '${name}' failed before the response was complete${code ? ` (${code})` : ''}`, {
        cause: err,
      });
  }
}

function isEventStream(contentType: string | string[] | undefined): boolean {
  const v = Array.isArray(contentType) ? contentType[0] : contentType;
  return v?.toLowerCase().startsWith('text/event-stream') === true;
}

/**
 * Answers a router error in the protocol's shape (with `x-openshell-error: <code>`) on a response that
 * has not started; returns the status sent, or 0 when the response had already started or closed.
 */
export function sendRouterError(res: ResponseSink, shape: ErrorShape, error: RouterError, close = false): number {
  if (res.headersSent || res.destroyed) return 0;
  const body = errorBody(shape, error);
  const headers: string[] = [
    'content-type',
    'application/json',
    'content-length',
    String(Buffer.byteLength(body)),
    'x-openshell-error',
    error.code,
  ];
  if (close) headers.push('connection', 'close');
  res.writeHead(error.status, headers);
  res.end(body);
  return error.status;
}

/** Tracks the client side of one forwarded request. */
class ClientState {
  gone = false;
  exchange: Exchange | undefined;
  readonly onClose = () => {
    if (this.res.writableFinished) return;
    this.gone = true;
    this.exchange?.controller?.abort(clientGoneError());
  };
  constructor(readonly res: ResponseSink) {}
}

/** One upstream attempt: a dispatch handler (undici Pool or H1 agent) that relays (or holds) the response. */
class Exchange implements Dispatcher.DispatchHandler {
  controller: Dispatcher.DispatchController | undefined;
  private relaying = false;
  private sse = false;
  private status = 0;
  private waitingDrain = false;
  private held: { statusText: string | undefined; headers: string[]; chunks: Buffer[]; size: number } | undefined;

  constructor(
    private readonly client: ClientState,
    private readonly route: BundleRoute,
    private readonly shape: ErrorShape,
    private readonly holdOn401: boolean,
    private readonly maxHeld: number,
    private readonly done: (outcome: Outcome) => void,
  ) {}

  private readonly onDrain = () => {
    this.waitingDrain = false;
    this.controller?.resume();
  };

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.client.gone) controller.abort(clientGoneError());
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void {
    if (statusCode < 200) return; // 1xx informational: nothing to relay
    const raw = controller.rawHeaders;
    const list = Array.isArray(raw) ? filterResponseHeaders(raw) : filterResponseHeaders(flattenHeaders(headers));
    const statusText = statusMessage === undefined || statusMessage === '' ? undefined : statusMessage;
    if (statusCode === 401 && this.holdOn401) {
      this.held = { statusText, headers: list, chunks: [], size: 0 };
      return;
    }
    const res = this.client.res;
    this.relaying = true;
    this.status = statusCode;
    this.sse = isEventStream(headers['content-type']);
    if (statusText === undefined) res.writeHead(statusCode, list);
    else res.writeHead(statusCode, statusText, list);
    // Send the status line at once for streams, so the client sees the response begin.
    if (this.sse) res.flushHeaders();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const held = this.held;
    if (held !== undefined) {
      held.size += chunk.length;
      if (held.size > this.maxHeld) {
        controller.abort(new RouterError('upstream_failed', `the upstream of route '${this.route.name}' answered 401 with a body larger than the router holds`));
        return;
      }
      held.chunks.push(chunk);
      return;
    }
    if (!this.client.res.write(chunk)) {
      controller.pause();
      if (!this.waitingDrain) {
        this.waitingDrain = true;
        this.client.res.once('drain', this.onDrain);
      }
    }
  }

  onResponseEnd(): void {
    const held = this.held;
    if (held !== undefined) {
      this.done({ kind: 'held401', statusText: held.statusText, headers: held.headers, body: Buffer.concat(held.chunks, held.size) });
      return;
    }
    this.client.res.end();
    this.done({ kind: 'relayed', status: this.status });
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.waitingDrain) this.client.res.off('drain', this.onDrain);
    if (this.client.gone) {
      this.done({ kind: 'gone', status: this.relaying ? this.status : 0 });
      return;
    }
    const error = toRouterError(err, this.route);
    if (!this.relaying) {
      this.done({ kind: 'error', error });
      return;
    }
    // The status is on the wire: report in-band for event streams, otherwise cut the connection so the
    // client sees a truncated response instead of a silently short one.
    const res = this.client.res;
    if (this.sse && !res.writableEnded) res.end(sseErrorFrame(this.shape, error));
    else res.destroy();
    this.done({ kind: 'relayed', status: this.status, error });
  }
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const item of v) out.push(k, item);
    else out.push(k, v);
  }
  return out;
}

/** undici options of one upstream request: the route's first-byte and idle timeouts. */
function dispatchOptions(upstream: UpstreamRequest, route: Pick<BundleRoute, 'timeouts'>): Dispatcher.DispatchOptions {
  return {
    path: upstream.path,
    method: upstream.method as Dispatcher.HttpMethod,
    headers: upstream.headers,
    body: upstream.body ?? null,
    headersTimeout: route.timeouts.firstByteMs,
    bodyTimeout: route.timeouts.idleMs,
  };
}

/** Reads the declared body length and whether the request has a body at all from raw headers. */
function bodyFraming(rawHeaders: readonly string[]): { length: number | undefined; chunked: boolean } {
  let length: number | undefined;
  let chunked = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length === 14 && name.toLowerCase() === 'content-length') length = Number(rawHeaders[i + 1]);
    else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') chunked = true;
  }
  return { length, chunked };
}

/** Reads a whole request body up to `max` bytes. */
function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (err: RouterError | undefined) => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      if (err !== undefined) reject(err);
      else resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.pause();
        finish(new RouterError('request_body_too_large', `the request body exceeds ${max} bytes, the router's bound`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish(undefined);
    const onError = () => finish(new RouterError('request_body_incomplete', 'reading the request body failed'));
    const onClose = () => finish(new RouterError('request_body_incomplete', 'the client closed the connection before the request body was complete'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** The H1 agent's options of one upstream request: the route's first-byte and idle timeouts. */
function h1Options(upstream: UpstreamRequest, route: Pick<BundleRoute, 'timeouts'>): H1DispatchOptions {
  return {
    path: upstream.path,
    method: upstream.method,
    headers: upstream.headers,
    body: upstream.body,
    headersTimeout: route.timeouts.firstByteMs,
    bodyTimeout: route.timeouts.idleMs,
  };
}

/**
 * Creates a forwarder: one connection pool per upstream origin (and connect timeout), shared by all
 * routes: an undici Pool, or an H1 agent with `transport: 'h1'`.
 */
export function createForwarder(settings: ForwarderSettings = {}): Forwarder {
  const maxBody = settings.maxRequestBodyBytes ?? DEFAULT_MAX_REQUEST_BODY_BYTES;
  const maxHeld = settings.maxHeldResponseBytes ?? DEFAULT_MAX_HELD_RESPONSE_BYTES;
  const now = settings.now ?? Date.now;
  const hookTimeoutMs = settings.hookTimeoutMs ?? 10_000;

  /** Calls a credential hook, bounded in time; a throw or a timeout reads as "no fresh route". */
  async function callHook(hook: RouteRefreshHook | undefined, route: BundleRoute): Promise<RouteRefreshAnswer> {
    if (hook === undefined) return undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race<RouteRefreshAnswer>([
        Promise.resolve().then(() => hook(route)),
        new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), hookTimeoutMs);
        }),
      ]);
    } catch {
      return undefined; // a failing hook must not hide the upstream's answer or our own error
    } finally {
      clearTimeout(timer);
    }
  }
  const pools = new Map<string, Pool>();
  const agents = new Map<string, H1Agent>();
  const useH1 = settings.transport === 'h1';
  let closed = false;

  function poolFor(origin: string, connectMs: number): Pool {
    const key = `${connectMs} ${origin}`;
    let pool = pools.get(key);
    if (pool === undefined) {
      if (closed) throw new RouterError('upstream_failed', 'the forwarder is closed');
      const tls = settings.tls;
      pool = new Pool(origin, {
        connect: {
          timeout: connectMs,
          ...(tls?.ca !== undefined ? { ca: tls.ca as string | Buffer | (string | Buffer)[] } : {}),
          ...(tls?.rejectUnauthorized !== undefined ? { rejectUnauthorized: tls.rejectUnauthorized } : {}),
        },
        keepAliveTimeout: settings.keepAliveTimeoutMs ?? 30_000,
        pipelining: 1,
        ...(settings.connectionsPerOrigin !== undefined ? { connections: settings.connectionsPerOrigin } : {}),
      });
      pools.set(key, pool);
    }
    return pool;
  }

  function agentFor(origin: string, connectMs: number): H1Agent {
    const key = `${connectMs} ${origin}`;
    let agent = agents.get(key);
    if (agent === undefined) {
      if (closed) throw new RouterError('upstream_failed', 'the forwarder is closed');
      agent = createH1Agent({
        origin,
        connectTimeoutMs: connectMs,
        keepAliveTimeoutMs: settings.keepAliveTimeoutMs ?? 30_000,
        connections: settings.connectionsPerOrigin,
        tls: settings.tls,
      });
      agents.set(key, agent);
    }
    return agent;
  }

  /** Returns a route whose credential is not expired, asking the hook when needed. */
  async function freshRoute(route: BundleRoute): Promise<BundleRoute> {
    const expiresAt = route.credential.expiresAt;
    if (expiresAt === undefined || now() < expiresAt) return route;
    const fresh = await callHook(settings.onCredentialExpired, route);
    if (isRefusal(fresh)) throw refusalError(route, fresh);
    if (fresh !== undefined && (fresh.credential.expiresAt === undefined || now() < fresh.credential.expiresAt)) return fresh;
    throw new RouterError(
      'credential_expired',
      `the credential of route '${route.name}' (provider ${route.providerName}, fingerprint ${route.credential.fingerprint}) expired at ${new Date(expiresAt).toISOString()} and no fresh one is available; check it with openshell provider refresh status ${route.providerName}`,
    );
  }

  function dispatch(
    compiled: CompiledRoute,
    upstream: UpstreamRequest,
    client: ClientState,
    shape: ErrorShape,
    holdOn401: boolean,
  ): Promise<Outcome> {
    const { route } = compiled;
    return new Promise<Outcome>((resolve) => {
      const exchange = new Exchange(client, route, shape, holdOn401, maxHeld, resolve);
      client.exchange = exchange;
      try {
        if (useH1) agentFor(upstream.origin, route.timeouts.connectMs).dispatch(h1Options(upstream, route), exchange);
        else poolFor(upstream.origin, route.timeouts.connectMs).dispatch(dispatchOptions(upstream, route), exchange);
      } catch (err) {
        resolve({ kind: 'error', error: toRouterError(err, route) });
      }
    });
  }

  /** Reads (or hands over) the request body once the target has been checked; an error is answered with `connection: close`. */
  type BodyRead = { body: Buffer | undefined } | { error: RouterError };
  type BodySource = () => BodyRead | Promise<BodyRead>;

  function forward(req: IncomingMessage, res: ResponseSink, route: BundleRoute, options: ForwardOptions = {}): Promise<ForwardResult> {
    const readClientBody: BodySource = async () => {
      // Body: bounded, held whole (model pinning and a possible retry need it).
      const framing = bodyFraming(req.rawHeaders);
      if (framing.length !== undefined && framing.length > maxBody) {
        return { error: new RouterError('request_body_too_large', `the request body (${framing.length} bytes) exceeds ${maxBody} bytes, the router's bound`) };
      }
      if (!framing.chunked && (framing.length === undefined || framing.length === 0)) return { body: undefined };
      if (req.readableEnded || req.destroyed) {
        return { error: new RouterError('request_body_incomplete', 'the request body was already consumed or the request destroyed before forwarding') };
      }
      try {
        return { body: await readBody(req, maxBody) };
      } catch (err) {
        return { error: toRouterError(err, route) };
      }
    };
    return run(req.method ?? 'GET', options.target ?? req.url ?? '/', req.rawHeaders, readClientBody, res, route, options.protocol);
  }

  function forwardBuffered(input: BufferedRequest, res: ResponseSink, route: BundleRoute, options: Pick<ForwardOptions, 'protocol'> = {}): Promise<ForwardResult> {
    const given: BodySource = () => ({ body: input.body !== undefined && input.body.length > 0 ? input.body : undefined });
    return run(input.method, input.target, input.rawHeaders, given, res, route, options.protocol);
  }

  async function run(
    method: string,
    target: string,
    rawHeaders: readonly string[],
    readClientBody: BodySource,
    res: ResponseSink,
    route: BundleRoute,
    protocolHint: Protocol | undefined,
  ): Promise<ForwardResult> {
    const client = new ClientState(res);
    res.once('close', client.onClose);
    let shape = errorShapeFor(protocolHint, route);
    let attempts = 0;
    let current = route;
    const fail = (error: RouterError, close = false): ForwardResult => ({
      status: client.gone ? 0 : sendRouterError(res, shape, error, close),
      attempts,
      error,
      route: current,
    });
    try {
      const compiled = compileRoute(route);
      const checked = checkTarget(compiled, method, target, protocolHint);
      const protocol = checked.protocol;
      shape = errorShapeFor(protocol, route);

      // Both steps are usually synchronous (a buffered body, an unexpired credential): no await then.
      const pending = readClientBody();
      const read = pending instanceof Promise ? await pending : pending;
      if ('error' in read) return fail(read.error, true);
      const body = read.body;
      const input: ClientRequest = { method, target, rawHeaders, body, protocol };

      const expiresAt = route.credential.expiresAt;
      current = expiresAt === undefined || now() < expiresAt ? route : await freshRoute(route);
      let currentCompiled = current === route ? compiled : compileRoute(current);
      let upstream = current === route ? prepareChecked(currentCompiled, input, checked) : prepareUpstreamRequest(currentCompiled, input);
      const canRetry = current.credential.refreshable && settings.onCredentialRejected !== undefined;
      attempts = 1;
      let outcome = await dispatch(currentCompiled, upstream, client, shape, canRetry);

      if (outcome.kind === 'held401') {
        const held = outcome;
        const fresh = client.gone ? undefined : await callHook(settings.onCredentialRejected, current);
        if (client.gone) return { status: 0, attempts, route: current };
        if (isRefusal(fresh)) return fail(refusalError(current, fresh));
        // The same credential again is not a fresh one: retrying would only repeat the 401.
        if (fresh === undefined || fresh.auth.value === current.auth.value) {
          res.writeHead(401, held.statusText ?? 'Unauthorized', held.headers);
          res.end(held.body);
          return { status: 401, attempts, route: current };
        }
        current = await freshRoute(fresh);
        currentCompiled = compileRoute(current);
        // A fresh route may serve other protocols or another base URL: check it again.
        upstream = prepareUpstreamRequest(currentCompiled, input);
        attempts = 2;
        outcome = await dispatch(currentCompiled, upstream, client, shape, false);
      }

      switch (outcome.kind) {
        case 'relayed':
          return outcome.error === undefined
            ? { status: outcome.status, attempts, route: current }
            : { status: outcome.status, attempts, error: outcome.error, route: current };
        case 'error':
          return fail(outcome.error);
        case 'gone':
          return { status: outcome.status, attempts, error: clientGoneError(), route: current };
        default:
          // A second 401 is relayed by the non-holding exchange; this branch is unreachable.
          return fail(new RouterError('upstream_failed', 'unexpected upstream outcome'));
      }
    } catch (err) {
      return fail(toRouterError(err, current));
    } finally {
      res.off('close', client.onClose);
      client.exchange = undefined;
    }
  }

  async function request(route: BundleRoute, input: ProbeRequest): Promise<ProbeResponse> {
    const current = await freshRoute(route);
    const compiled = compileRoute(current);
    const rawHeaders: string[] = [];
    for (const [k, v] of Object.entries(input.headers ?? {})) rawHeaders.push(k, v);
    const body = input.body === undefined ? undefined : Buffer.isBuffer(input.body) ? input.body : Buffer.from(input.body, 'utf8');
    const upstream = prepareUpstreamRequest(compiled, { method: input.method, target: input.target, rawHeaders, body });
    const max = input.maxResponseBytes ?? DEFAULT_MAX_PROBE_RESPONSE_BYTES;
    try {
      const response = await poolFor(upstream.origin, current.timeouts.connectMs).request(dispatchOptions(upstream, current));
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of response.body) {
        const buf = chunk as Buffer;
        size += buf.length;
        if (size > max) {
          response.body.destroy();
          throw new RouterError('upstream_response_too_large', `the upstream of route '${current.name}' answered with more than ${max} bytes`);
        }
        chunks.push(buf);
      }
      return { status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks, size) };
    } catch (err) {
      throw toRouterError(err, current);
    }
  }

  async function close(): Promise<void> {
    closed = true;
    const all: { close(): Promise<void> }[] = [...pools.values(), ...agents.values()];
    pools.clear();
    agents.clear();
    await Promise.all(all.map((p) => p.close()));
  }

  return { forward, forwardBuffered, request, close };
}
