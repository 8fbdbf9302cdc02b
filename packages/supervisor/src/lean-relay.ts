import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { ResponseSink } from '@openshell/router';
import { hasInvalidFieldValueChar, isHttpToken } from '@openshell/router/headers';

/**
 * The lean HTTP/1.1 front of the inference path.
 *
 * node:http costs more CPU per request than everything else the boundary does (see bench/analysis.md),
 * so requests for `inference.local` are read here with a small parser that accepts only a strict,
 * canonical subset of HTTP/1.1. The rule that keeps this safe: the lean parser never answers an odd
 * request itself. The moment a connection shows anything outside the subset — another method or
 * destination, `Transfer-Encoding`, `Expect`, `Upgrade`, a repeated or malformed `Content-Length`,
 * obs-fold, bare LF, control bytes, an oversized head or body, a missing or wrong proxy secret — the
 * connection, with every byte not yet consumed, is handed to the node:http server that served it
 * before this existed. That server (llhttp, strict) gives the same answers and log lines it always
 * gave, and keeps the connection. The lean path only ever sees requests it can frame without doubt.
 */

/** A request read by the lean front, body included. */
export interface LeanRequest {
  readonly method: string;
  /** Origin-form path with query, e.g. `/v1/messages?beta=true`. */
  readonly path: string;
  /** `[name, value, …]` as received. */
  readonly rawHeaders: string[];
  readonly body: Buffer | undefined;
}

/** Serves one lean request; must answer `res` (end or destroy it). */
export type LeanHandler = (req: LeanRequest, res: LeanResponse) => Promise<void>;

/** How a connection reaches the lean front. */
export interface LeanFrontOptions {
  /**
   * `proxy`: absolute-form requests (`POST http://inference.local/v1/messages`) on the forward-proxy
   * port, checked against the proxy secret; `origin`: origin-form requests with `Host: inference.local`
   * on a connection that can only mean inference.local (TLS-terminated CONNECT, the relay's http.sock).
   */
  readonly mode: 'proxy' | 'origin';
  /** `https` when TLS was terminated before this front (decides the Host port that is accepted). */
  readonly scheme: 'http' | 'https';
  /** Proxy mode: true when this `Proxy-Authorization` value (undefined: none) lets the socket through. */
  readonly authorize?: (socket: Socket, proxyAuthorization: string | undefined) => boolean;
  /** Bodies larger than this go to the node:http path (which answers 413). */
  readonly maxBodyBytes: number;
  readonly handle: LeanHandler;
  /** Takes over a connection the lean front will not serve; unread bytes are already unshifted. */
  readonly fallback: (socket: Socket) => void;
  /** Idle time between requests before the connection is closed (ms). */
  readonly keepAliveTimeoutMs: number;
  /** Time a request may take to arrive whole, head and body (ms). */
  readonly requestTimeoutMs: number;
}

const CRLF2 = Buffer.from('\r\n\r\n');
/** Same bound as node:http's default `maxHeaderSize`. */
export const MAX_LEAN_HEAD_BYTES = 16 * 1024;
/** Body chunks up to this size are copied into one buffer with the head and framing (one write, no writev). */
const COPY_CHUNK_BELOW = 16 * 1024;
/** Pipelined bytes buffered while a request is in flight before the socket is paused. */
const MAX_PIPELINED_BYTES = 64 * 1024;

const REQUEST_LINE = /^(GET|POST) ([\x21-\x7e]+) HTTP\/1\.1$/;
const DIGITS = /^[0-9]{1,15}$/;
/**
 * Proxy mode only: an absolute-form target whose path WHATWG URL parsing (the node:http path's
 * `parseAbsoluteTarget`) would leave exactly as written — no dot segments (also percent-encoded), no
 * fragment, no characters it would percent-encode, no empty query. Anything else takes that path.
 */
const CANONICAL_PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*(?:\?[A-Za-z0-9\-._~!$&()*+,;=:@/?%]+)?$/;
const DOT_SEGMENT = /\/(?:\.|%2e){1,2}(?:[/?]|$)/i;
const PROXY_PREFIX = 'http://inference.local/';
const PROXY_PREFIX_80 = 'http://inference.local:80/';

/** Why a request did not fit the lean subset (for tests and debugging; never sent to clients). */
type Verdict = { readonly lean: LeanHead } | { readonly fallback: string } | undefined;

interface LeanHead {
  readonly method: string;
  readonly path: string;
  readonly rawHeaders: string[];
  readonly bodyLength: number;
  /** Bytes of head including the blank line. */
  readonly headBytes: number;
  readonly close: boolean;
}

/**
 * Parses the head at the start of `buf` when it fits the lean subset. Undefined: incomplete (need
 * more bytes); `fallback`: hand the connection to node:http.
 */
export function parseLeanHead(buf: Buffer, options: Pick<LeanFrontOptions, 'mode' | 'scheme' | 'maxBodyBytes'>, socket?: Socket, authorize?: LeanFrontOptions['authorize']): Verdict {
  const end = buf.indexOf(CRLF2);
  if (end === -1) return buf.length > MAX_LEAN_HEAD_BYTES ? { fallback: 'head too large' } : undefined;
  if (end + 4 > MAX_LEAN_HEAD_BYTES) return { fallback: 'head too large' };
  const text = buf.toString('latin1', 0, end);
  let lineEnd = text.indexOf('\r\n');
  if (lineEnd === -1) lineEnd = text.length;
  const m = REQUEST_LINE.exec(text.slice(0, lineEnd));
  if (m === null) return { fallback: 'request line' };
  const method = m[1] as string;
  const target = m[2] as string;
  let path: string;
  if (options.mode === 'proxy') {
    if (target.startsWith(PROXY_PREFIX)) path = target.slice(PROXY_PREFIX.length - 1);
    else if (target.startsWith(PROXY_PREFIX_80)) path = target.slice(PROXY_PREFIX_80.length - 1);
    else return { fallback: 'target' };
    if (!CANONICAL_PATH.test(path) || DOT_SEGMENT.test(path)) return { fallback: 'path' };
  } else {
    if (target.charCodeAt(0) !== 0x2f) return { fallback: 'target' };
    path = target;
  }
  const rawHeaders: string[] = [];
  let bodyLength = -1;
  let hosts = 0;
  let host: string | undefined;
  let proxyAuthorization: string | undefined;
  let proxyAuthorizations = 0;
  let close = false;
  while (lineEnd < text.length) {
    // One header line: a token name, a colon, optional whitespace, a value of visible bytes with
    // inner SP/HTAB, optional whitespace (no regex, no split).
    const start = lineEnd + 2;
    lineEnd = text.indexOf('\r\n', start);
    if (lineEnd === -1) lineEnd = text.length;
    const colon = text.indexOf(':', start);
    if (colon === -1 || colon >= lineEnd) return { fallback: 'header line' };
    const name = text.slice(start, colon);
    if (!isHttpToken(name)) return { fallback: 'header line' };
    let i = colon + 1;
    let c = text.charCodeAt(i);
    while (i < lineEnd && (c === 0x20 || c === 0x09)) c = text.charCodeAt(++i);
    let valueEnd = lineEnd;
    c = text.charCodeAt(valueEnd - 1);
    while (valueEnd > i && (c === 0x20 || c === 0x09)) c = text.charCodeAt(--valueEnd - 1);
    const value = text.slice(i, valueEnd);
    if (hasInvalidFieldValueChar(value)) return { fallback: 'header line' };
    // Names with framing or connection meaning are looked at by length first (cheap).
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === 'host') {
          hosts++;
          host = value;
        }
        break;
      case 6:
        if (name.toLowerCase() === 'expect') return { fallback: 'expect' };
        break;
      case 7:
        if (name.toLowerCase() === 'upgrade') return { fallback: 'upgrade' };
        break;
      case 10:
        if (name.toLowerCase() === 'connection') {
          const v = value.toLowerCase();
          if (v.includes('upgrade')) return { fallback: 'upgrade' };
          if (/(^|[\s,])close([\s,]|$)/.test(v)) close = true;
        }
        break;
      case 14:
        if (name.toLowerCase() === 'content-length') {
          if (bodyLength !== -1 || !DIGITS.test(value)) return { fallback: 'content-length' };
          bodyLength = Number(value);
          if (bodyLength > options.maxBodyBytes) return { fallback: 'body too large' };
        }
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') return { fallback: 'transfer-encoding' };
        break;
      case 19:
        if (name.toLowerCase() === 'proxy-authorization') {
          proxyAuthorizations++;
          proxyAuthorization = value;
        }
        break;
    }
    rawHeaders.push(name, value);
  }
  if (options.mode === 'origin') {
    const port = options.scheme === 'https' ? ':443' : ':80';
    if (hosts !== 1 || (host !== 'inference.local' && host !== `inference.local${port}`)) return { fallback: 'host' };
  } else if (authorize === undefined || socket === undefined || proxyAuthorizations > 1 || !authorize(socket, proxyAuthorization)) {
    // Proxy mode without a way to check the secret serves nothing itself.
    return { fallback: 'proxy auth' };
  }
  return { lean: { method, path, rawHeaders, bodyLength: bodyLength === -1 ? 0 : bodyLength, headBytes: end + 4, close } };
}

/** A cached `Date` header value, refreshed at most once per second. */
let dateValue = '';
let dateAt = 0;
function httpDate(): string {
  const now = Date.now();
  if (now - dateAt >= 1000) {
    dateAt = now - (now % 1000);
    dateValue = new Date(now).toUTCString();
  }
  return dateValue;
}

type Listener = () => void;

/**
 * The answer to one lean request, written as HTTP/1.1 on the raw socket: the status line and headers
 * go out with the first body bytes (one write), a body without `content-length` is sent chunked.
 * Implements the part of `ServerResponse` the router's forwarder uses.
 */
export class LeanResponse implements ResponseSink {
  headersSent = false;
  writableEnded = false;
  writableFinished = false;
  private head: string | undefined;
  private chunked = false;
  private noBody = false;
  private closeListeners: Listener[] | undefined;
  private drainListeners: Listener[] | undefined;

  constructor(
    private readonly socket: Socket,
    /** Send `connection: close` and close after this response. */
    public closeAfter: boolean,
    private readonly done: (res: LeanResponse) => void,
  ) {}

  get destroyed(): boolean {
    return this.socket.destroyed;
  }

  writeHead(statusCode: number, a?: string | string[], b?: string[]): this {
    if (this.headersSent) throw new Error('headers already sent');
    const statusText = typeof a === 'string' ? a : (STATUS_CODES[statusCode] ?? 'Unknown');
    const headers = (typeof a === 'string' ? b : a) ?? [];
    let out = `HTTP/1.1 ${statusCode} ${statusText}\r\n`;
    let length = false;
    let date = false;
    for (let i = 0; i + 1 < headers.length; i += 2) {
      const name = headers[i] as string;
      const value = headers[i + 1] as string;
      switch (name.length) {
        case 4:
          if (name.toLowerCase() === 'date') date = true;
          break;
        case 10:
          // Hop-by-hop: ours is decided below; a handler's `connection: close` is honoured.
          if (name.toLowerCase() === 'connection') {
            if (value.toLowerCase().includes('close')) this.closeAfter = true;
            continue;
          }
          break;
        case 14:
          if (name.toLowerCase() === 'content-length') length = true;
          break;
        case 17:
          if (name.toLowerCase() === 'transfer-encoding') continue;
          break;
      }
      out += `${name}: ${value}\r\n`;
    }
    if (!date) out += `date: ${httpDate()}\r\n`;
    this.noBody = statusCode === 204 || statusCode === 304;
    if (!length && !this.noBody) {
      this.chunked = true;
      out += 'transfer-encoding: chunked\r\n';
    }
    if (this.closeAfter) out += 'connection: close\r\n';
    this.head = `${out}\r\n`;
    this.headersSent = true;
    return this;
  }

  flushHeaders(): void {
    if (this.head === undefined || this.socket.destroyed) return;
    this.socket.write(this.head, 'latin1');
    this.head = undefined;
  }

  write(chunk: Buffer): boolean {
    if (this.writableEnded || this.socket.destroyed) return false;
    if (!this.headersSent) this.writeHead(200, []);
    const socket = this.socket;
    if (this.noBody || chunk.length === 0) {
      this.flushHeaders();
      return !socket.writableNeedDrain;
    }
    if (chunk.length <= COPY_CHUNK_BELOW) {
      // Small chunks (most answers, every SSE event): head, framing and data in one buffer, one write.
      const prefix = this.chunked ? `${this.head ?? ''}${chunk.length.toString(16)}\r\n` : (this.head ?? '');
      this.head = undefined;
      const out = Buffer.allocUnsafe(prefix.length + chunk.length + (this.chunked ? 2 : 0));
      out.write(prefix, 0, 'latin1');
      chunk.copy(out, prefix.length);
      if (this.chunked) {
        out[out.length - 2] = 0x0d;
        out[out.length - 1] = 0x0a;
      }
      return socket.write(out);
    }
    socket.cork();
    if (this.head !== undefined) {
      socket.write(this.head, 'latin1');
      this.head = undefined;
    }
    let ok: boolean;
    if (this.chunked) {
      socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      socket.write(chunk);
      ok = socket.write('\r\n', 'latin1');
    } else {
      ok = socket.write(chunk);
    }
    socket.uncork();
    return ok;
  }

  end(chunk?: Buffer | string): this {
    if (this.writableEnded) return this;
    if (chunk !== undefined && chunk.length > 0) this.write(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
    if (!this.headersSent) this.writeHead(200, []);
    this.writableEnded = true;
    if (!this.socket.destroyed) {
      if (this.head !== undefined) {
        this.socket.write(this.chunked ? `${this.head}0\r\n\r\n` : this.head, 'latin1');
        this.head = undefined;
      } else if (this.chunked && !this.noBody) {
        this.socket.write('0\r\n\r\n', 'latin1');
      }
    }
    this.writableFinished = true;
    this.done(this);
    return this;
  }

  destroy(): this {
    this.socket.destroy();
    return this;
  }

  once(event: 'close' | 'drain', listener: Listener): this {
    if (event === 'close') {
      this.closeListeners ??= [];
      this.closeListeners.push(listener);
    } else {
      this.drainListeners ??= [];
      this.drainListeners.push(listener);
    }
    return this;
  }

  off(event: 'close' | 'drain', listener: Listener): this {
    const list = event === 'close' ? this.closeListeners : this.drainListeners;
    const at = list?.indexOf(listener) ?? -1;
    if (at !== -1) list?.splice(at, 1);
    return this;
  }

  /** Called by the connection when its socket drains or closes. */
  emitOnce(event: 'close' | 'drain'): void {
    const list = event === 'close' ? this.closeListeners : this.drainListeners;
    if (list === undefined || list.length === 0) return;
    if (event === 'close') this.closeListeners = undefined;
    else this.drainListeners = undefined;
    for (const l of list) l();
  }
}

/**
 * Serves a connection with the lean front until it closes, or until a request falls outside the lean
 * subset, when the connection (and its unread bytes) goes to `options.fallback`.
 */
export function serveLean(socket: Socket, options: LeanFrontOptions): void {
  let buf: Buffer | undefined;
  /** Body being collected for a parsed head. */
  let pending: { head: LeanHead; chunks: Buffer[]; have: number } | undefined;
  let current: LeanResponse | undefined;
  let requestStarted = 0;
  let paused = false;
  let finished = false;

  const onDrain = () => current?.emitOnce('drain');
  const onClose = () => {
    finished = true;
    current?.emitOnce('close');
  };
  const onEnd = () => {
    // The client half-closed: nothing more will come, and nothing is kept half-open.
    socket.destroy();
  };
  const onTimeout = () => {
    if (current === undefined) socket.destroy();
  };
  const onError = () => socket.destroy();

  const handOff = (reason: string) => {
    finished = true;
    socket.off('data', onData);
    socket.off('drain', onDrain);
    socket.off('close', onClose);
    socket.off('end', onEnd);
    socket.off('timeout', onTimeout);
    socket.off('error', onError);
    socket.setTimeout(0);
    socket.pause();
    if (buf !== undefined && buf.length > 0) socket.unshift(buf);
    buf = undefined;
    fallbackReasons.set(socket, reason);
    options.fallback(socket);
    socket.resume();
  };

  const startRequest = (head: LeanHead, body: Buffer | undefined) => {
    const res = new LeanResponse(socket, head.close, finishRequest);
    current = res;
    const req: LeanRequest = { method: head.method, path: head.path, rawHeaders: head.rawHeaders, body };
    options.handle(req, res).then(
      () => {
        // A handler that returns without answering would leave the client waiting forever.
        if (!res.writableEnded && current === res) socket.destroy();
      },
      () => {
        if (current !== res) return;
        if (!res.headersSent) {
          const body = JSON.stringify({ type: 'error', error: { type: 'api_error', message: 'the sandbox proxy failed to forward this request' } });
          res.closeAfter = true;
          res.writeHead(502, ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(body))]);
          res.end(body);
        } else socket.destroy();
      },
    );
  };

  const finishRequest = (res: LeanResponse) => {
    if (current !== res) return;
    current = undefined;
    if (res.closeAfter) {
      finished = true;
      socket.end();
      return;
    }
    if (paused) {
      paused = false;
      socket.resume();
    }
    // The next pipelined request (if any) starts outside the forwarder's call stack.
    if (buf !== undefined) process.nextTick(next);
  };

  const next = () => {
    if (finished || current !== undefined || pending !== undefined || buf === undefined) return;
    if (requestStarted === 0) requestStarted = Date.now();
    const verdict = parseLeanHead(buf, options, socket, options.authorize);
    if (verdict === undefined) {
      if (Date.now() - requestStarted > options.requestTimeoutMs) socket.destroy();
      return;
    }
    if ('fallback' in verdict) {
      handOff(verdict.fallback);
      return;
    }
    const head = verdict.lean;
    const total = head.headBytes + head.bodyLength;
    if (buf.length >= total) {
      const body = head.bodyLength === 0 ? undefined : buf.subarray(head.headBytes, total);
      buf = buf.length === total ? undefined : buf.subarray(total);
      requestStarted = buf === undefined ? 0 : Date.now();
      startRequest(head, body);
      return;
    }
    const first = buf.subarray(head.headBytes);
    pending = { head, chunks: first.length > 0 ? [first] : [], have: first.length };
    buf = undefined;
  };

  const onData = (chunk: Buffer) => {
    if (pending !== undefined) {
      const need = pending.head.bodyLength - pending.have;
      const take = chunk.length <= need ? chunk : chunk.subarray(0, need);
      pending.chunks.push(take);
      pending.have += take.length;
      if (pending.have < pending.head.bodyLength) {
        if (Date.now() - requestStarted > options.requestTimeoutMs) socket.destroy();
        return;
      }
      const { head, chunks } = pending;
      pending = undefined;
      if (take.length < chunk.length) {
        buf = chunk.subarray(take.length);
        requestStarted = Date.now();
      } else requestStarted = 0;
      startRequest(head, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, head.bodyLength));
      return;
    }
    buf = buf === undefined ? chunk : Buffer.concat([buf, chunk]);
    if (current !== undefined) {
      // Pipelined while a request is in flight: keep it for later, bounded.
      if (buf.length > MAX_PIPELINED_BYTES && !paused) {
        paused = true;
        socket.pause();
      }
      return;
    }
    next();
  };

  socket.on('data', onData);
  socket.on('drain', onDrain);
  socket.on('close', onClose);
  socket.on('end', onEnd);
  socket.on('timeout', onTimeout);
  socket.on('error', onError);
  socket.setTimeout(options.keepAliveTimeoutMs);
}

/** Why each handed-off socket left the lean path (tests look at it; weak, so it holds nothing alive). */
export const fallbackReasons = new WeakMap<Socket, string>();
