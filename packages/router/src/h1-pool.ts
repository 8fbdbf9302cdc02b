import type { IncomingHttpHeaders } from 'node:http';
import { type Socket, isIP, connect as netConnect } from 'node:net';
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { hasInvalidFieldValueChar, isHttpToken } from './header-policy.js';

/**
 * A lean HTTP/1.1 client over raw `net`/`tls` sockets: one keep-alive pool per origin, one request at a
 * time per socket (no pipelining). It takes the same handler as undici's `Dispatcher.dispatch` (the
 * `onRequestStart … onResponseError` family) and fails with undici's error codes for the timeouts, so
 * the forwarder can use either transport unchanged. It exists to be cheap per request: no per-request
 * closures, the head parsed as one latin1 string, one socket write per request.
 */

/** Controller handed to the handler: the subset of undici's `DispatchController` the forwarder uses. */
export interface H1Controller {
  readonly aborted: boolean;
  readonly paused: boolean;
  readonly reason: Error | null;
  /** `[name, value, …]` of the response head, as received (set before `onResponseStart`). */
  rawHeaders: string[] | null;
  /** Always null: trailers are read and discarded. */
  rawTrailers: string[] | null;
  /** Ends the exchange: destroys its socket and calls `onResponseError(err)` (once). */
  abort(reason: Error): void;
  /** Stops reading the socket (backpressure); the rest of the chunk in hand is still delivered. */
  pause(): void;
  resume(): void;
}

/** The handler callbacks (undici's `Dispatcher.DispatchHandler` shape). */
export interface H1Handler {
  onRequestStart?(controller: H1Controller, context: unknown): void;
  onResponseStart?(controller: H1Controller, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void;
  onResponseData?(controller: H1Controller, chunk: Buffer): void;
  onResponseEnd?(controller: H1Controller, trailers: IncomingHttpHeaders): void;
  onResponseError?(controller: H1Controller, error: Error): void;
}

/** One request. */
export interface H1DispatchOptions {
  readonly method: string;
  /** Origin-form path with query. */
  readonly path: string;
  /** `[name, value, …]`; the agent writes `host` and `content-length` itself and refuses framing headers. */
  readonly headers?: readonly string[] | null | undefined;
  readonly body?: Buffer | Uint8Array | string | null | undefined;
  /** Milliseconds from sending until the whole response head is in (default 300 s, 0 disables). */
  readonly headersTimeout?: number | null | undefined;
  /** Milliseconds without body data (default 300 s, 0 disables; not counted while paused). */
  readonly bodyTimeout?: number | null | undefined;
}

/** Settings of {@link createH1Agent}. */
export interface H1AgentOptions {
  /** `http://host[:port]` or `https://host[:port]`. */
  readonly origin: string;
  /** Bound on TCP connect plus TLS handshake (default 10 s, 0 disables). */
  readonly connectTimeoutMs?: number | undefined;
  /** Idle time of a pooled socket before it is closed (default 30 s); a smaller server hint wins. */
  readonly keepAliveTimeoutMs?: number | undefined;
  /** Bound on open sockets; further requests wait in FIFO order (default unlimited). */
  readonly connections?: number | undefined;
  /** Bound on a response head, and separately on its trailers (default 64 KiB). */
  readonly maxHeaderBytes?: number | undefined;
  readonly tls?: { readonly ca?: string | Buffer | readonly (string | Buffer)[] | undefined; readonly rejectUnauthorized?: boolean | undefined } | undefined;
}

/** A keep-alive pool of HTTP/1.1 connections to one origin. */
export interface H1Agent {
  /** Sends one request; every outcome reaches the handler (never throws). */
  dispatch(options: H1DispatchOptions, handler: H1Handler): void;
  /** Closes idle sockets now and the others once their exchange (and any queued one) is over. */
  close(): Promise<void>;
}

/** A transport error; `code` is undici's where undici has one, llhttp's `HPE_*` for malformed responses. */
export class H1Error extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'H1Error';
    this.code = code;
  }
}

const DEFAULT_TIMEOUT_MS = 300_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_HEADER_BYTES = 64 * 1024;
/** Bound on one chunk-size line (extensions included). */
const MAX_CHUNK_LINE = 4096;
/** Bodies up to this size are copied behind the head so the request leaves in one write. */
const COPY_BODY_BELOW = 16 * 1024;
/** Longest delay Node's timers take. */
const MAX_TIMER_MS = 2_147_483_647;
/** A pending-bytes buffer larger than this is dropped once used, not kept with the socket. */
const KEEP_PENDING_BELOW = 16 * 1024;

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Field values: HTAB, SP, VCHAR and obs-text only (so no CR, LF, NUL or other controls). */
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
const BAD_PATH = /[^\x21-\x7e\x80-\xff]/;
const DIGITS = /^[0-9]+$/;
const CHUNK_EXT_START = /^[ \t]*;/;
const KEEP_ALIVE_TIMEOUT = /(?:^|[\s,;])timeout\s*=\s*"?([0-9]+)/i;
/** Request headers the agent owns (framing and connection management). */
const RESERVED_REQUEST_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'expect', 'te', 'trailer']);
/** Their lengths: a name of another length is not lowercased to be looked up. */
const RESERVED_LENGTHS = new Set([...RESERVED_REQUEST_HEADERS].map((name) => name.length));
const EMPTY_TRAILERS: IncomingHttpHeaders = Object.freeze({}) as IncomingHttpHeaders;
const REQUEST_CONTEXT = Object.freeze({});

// Parser states of a connection.
const S_IDLE = 0;
const S_HEAD = 1;
const S_BODY_LENGTH = 2;
const S_CHUNK_SIZE = 3;
const S_CHUNK_DATA = 4;
const S_CHUNK_END = 5;
const S_TRAILERS = 6;
const S_BODY_CLOSE = 7;

// Connection states.
const C_CONNECTING = 0;
const C_BUSY = 1;
const C_IDLE = 2;
const C_CLOSED = 3;

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function otherSideClosed(): H1Error {
  return new H1Error('UND_ERR_SOCKET', 'the upstream closed the connection');
}

function isRetryableLoss(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET';
}

/** A parsed response head. */
interface ResponseHead {
  readonly minor: number;
  readonly status: number;
  readonly reason: string;
  readonly raw: string[];
  readonly headers: IncomingHttpHeaders;
  /** -1 when absent. */
  readonly contentLength: number;
  /** The last transfer coding, lowercase; undefined without `transfer-encoding`. */
  readonly lastCoding: string | undefined;
  readonly connectionClose: boolean;
  readonly connectionKeepAlive: boolean;
  /** `Keep-Alive: timeout=N` in milliseconds, or -1. */
  readonly keepAliveHintMs: number;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Parses a response head (status line and fields, without the final CRLFCRLF); throws H1Error. */
function parseResponseHead(text: string): ResponseHead {
  const firstEnd = text.indexOf('\r\n');
  const statusLine = firstEnd === -1 ? text : text.slice(0, firstEnd);
  if (statusLine.length < 12 || !statusLine.startsWith('HTTP/1.')) throw new H1Error('HPE_INVALID_CONSTANT', 'the upstream answered something other than HTTP/1.x');
  const minor = statusLine.charCodeAt(7) - 48;
  if ((minor !== 0 && minor !== 1) || statusLine.charCodeAt(8) !== 32) throw new H1Error('HPE_INVALID_VERSION', 'invalid HTTP version in the status line');
  const d1 = statusLine.charCodeAt(9);
  const d2 = statusLine.charCodeAt(10);
  const d3 = statusLine.charCodeAt(11);
  if (!isDigit(d1) || !isDigit(d2) || !isDigit(d3) || d1 === 48) throw new H1Error('HPE_INVALID_STATUS', 'invalid status code in the status line');
  const status = (d1 - 48) * 100 + (d2 - 48) * 10 + (d3 - 48);
  let reason = '';
  if (statusLine.length > 12) {
    if (statusLine.charCodeAt(12) !== 32) throw new H1Error('HPE_INVALID_STATUS', 'invalid status line');
    reason = statusLine.slice(13);
    if (BAD_VALUE.test(reason)) throw new H1Error('HPE_INVALID_STATUS', 'invalid character in the reason phrase');
  }

  const raw: string[] = [];
  const headers: IncomingHttpHeaders = {};
  let contentLength = -1;
  let lastCoding: string | undefined;
  let connectionClose = false;
  let connectionKeepAlive = false;
  let keepAliveHintMs = -1;
  let pos = firstEnd === -1 ? text.length : firstEnd + 2;
  while (pos < text.length) {
    let end = text.indexOf('\r\n', pos);
    if (end === -1) end = text.length;
    const colon = text.indexOf(':', pos);
    const lineStart = pos;
    pos = end + 2;
    if (colon === -1 || colon >= end) throw new H1Error('HPE_INVALID_HEADER_TOKEN', 'a response header line has no colon');
    const name = text.slice(lineStart, colon);
    // Rejects obs-fold continuation lines and whitespace before the colon too.
    if (!isHttpToken(name)) throw new H1Error('HPE_INVALID_HEADER_TOKEN', 'invalid response header name');
    let vs = colon + 1;
    let ve = end;
    let c = text.charCodeAt(vs);
    while (vs < ve && (c === 32 || c === 9)) c = text.charCodeAt(++vs);
    c = text.charCodeAt(ve - 1);
    while (ve > vs && (c === 32 || c === 9)) c = text.charCodeAt(--ve - 1);
    const value = text.slice(vs, ve);
    if (hasInvalidFieldValueChar(value)) throw new H1Error('HPE_INVALID_HEADER_TOKEN', `invalid character in response header '${name}'`);
    raw.push(name, value);
    const lower = name.toLowerCase();
    switch (lower) {
      case 'content-length': {
        if (!DIGITS.test(value) || value.length > 15) throw new H1Error('HPE_INVALID_CONTENT_LENGTH', 'invalid content-length in the response');
        const n = Number(value);
        if (contentLength !== -1 && contentLength !== n) throw new H1Error('HPE_UNEXPECTED_CONTENT_LENGTH', 'the response has several differing content-length values');
        contentLength = n;
        break;
      }
      case 'transfer-encoding': {
        const comma = value.lastIndexOf(',');
        lastCoding = (comma === -1 ? value : value.slice(comma + 1)).trim().toLowerCase();
        break;
      }
      case 'connection':
        for (const token of value.split(',')) {
          const t = token.trim().toLowerCase();
          if (t === 'close') connectionClose = true;
          else if (t === 'keep-alive') connectionKeepAlive = true;
        }
        break;
      case 'keep-alive': {
        const m = KEEP_ALIVE_TIMEOUT.exec(value);
        if (m !== null) keepAliveHintMs = Math.min(Number(m[1]) * 1000, MAX_TIMER_MS);
        break;
      }
      case '__proto__':
        continue; // kept in `raw`, never a key of the object
    }
    const prev = headers[lower];
    if (prev === undefined) headers[lower] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else headers[lower] = [prev, value];
  }
  return { minor, status, reason, raw, headers, contentLength, lastCoding, connectionClose, connectionKeepAlive, keepAliveHintMs };
}

/**
 * A deadline "`ms` after the last activity" on one reusable Timeout. Activity only stamps the time
 * (`touch`, no timer work per chunk); when the timer fires early relative to the stamp it re-arms for
 * the rest. Checking the stamp also covers a Node quirk: a timer already picked to fire still fires
 * when it is refreshed by a promise continuation that runs just before its callback.
 */
class Deadline {
  private timer: NodeJS.Timeout | undefined;
  /** Delay of the current Timeout object (reused through `refresh()` while it stays the same). */
  private delay = 0;
  /** The configured bound; 0 when disarmed. */
  private ms = 0;
  private since = 0;
  private readonly onTimer = () => this.check();
  constructor(private readonly expire: () => void) {}

  /** Starts the bound from now; 0 (or less) disarms. */
  arm(ms: number): void {
    if (ms <= 0) {
      this.clear();
      return;
    }
    this.ms = Math.min(ms, MAX_TIMER_MS);
    this.since = performance.now();
    this.schedule(this.ms);
  }

  /** Activity: the bound counts from now. */
  touch(): void {
    this.since = performance.now();
  }

  clear(): void {
    this.ms = 0;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private schedule(delay: number): void {
    if (this.timer !== undefined && this.delay === delay) {
      this.timer.refresh();
      return;
    }
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.delay = delay;
    this.timer = setTimeout(this.onTimer, delay);
    this.timer.unref();
  }

  private check(): void {
    if (this.ms === 0) return;
    const left = Math.ceil(this.since + this.ms - performance.now());
    if (left > 0) this.schedule(left);
    else this.expire();
  }
}

/** One request: also the controller its handler sees. */
class H1Request implements H1Controller {
  rawHeaders: string[] | null = null;
  rawTrailers: string[] | null = null;
  aborted = false;
  paused = false;
  reason: Error | null = null;
  /** The handler has had its last callback (end or error); nothing more reaches it. */
  finished = false;
  retried = false;
  queued = false;
  conn: H1Conn | undefined = undefined;

  constructor(
    readonly pool: H1Pool,
    readonly handler: H1Handler,
    readonly head: string,
    readonly body: Buffer | undefined,
    readonly isHead: boolean,
    readonly headersTimeout: number,
    readonly bodyTimeout: number,
  ) {}

  abort(reason: Error): void {
    if (this.finished) return;
    this.aborted = true;
    this.reason = reason;
    this.pool.fail(this, reason);
  }

  pause(): void {
    if (this.paused || this.finished) return;
    this.paused = true;
    const conn = this.conn;
    if (conn !== undefined && conn.state === C_BUSY) conn.socket.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (!this.finished) this.conn?.resumeReading();
  }
}

/** One socket and the parser state of the response it is reading. */
class H1Conn {
  readonly socket: Socket;
  state = C_CONNECTING;
  req: H1Request | undefined = undefined;
  /** Requests completed on this socket (a request is "reused" when this was > 0 at its start). */
  private served = 0;
  private reused = false;
  /** Any byte of the current request's response has arrived. */
  private gotBytes = false;
  private error: Error | undefined;
  private idleMs: number;

  private parse = S_IDLE;
  private keepAlive = true;
  private remaining = 0;
  private trailerBytes = 0;
  private line = '';
  private pending: Buffer | undefined;
  private pendingLen = 0;

  private readonly connectTimer: NodeJS.Timeout | undefined;
  private readonly headersTimer = new Deadline(() => this.onHeadersTimeout());
  private readonly bodyTimer = new Deadline(() => this.onBodyTimeout());
  private readonly idleTimer = new Deadline(() => this.onIdleTimeout());

  constructor(private readonly pool: H1Pool) {
    this.idleMs = pool.keepAliveMs;
    let socket: Socket;
    if (pool.secure) {
      const options: ConnectionOptions = { host: pool.host, port: pool.port, ALPNProtocols: ['http/1.1'], ...pool.tlsOptions };
      if (pool.servername !== undefined) options.servername = pool.servername;
      if (pool.tlsSession !== undefined) options.session = pool.tlsSession;
      const tlsSocket: TLSSocket = tlsConnect(options);
      tlsSocket.on('session', (session: Buffer) => {
        pool.tlsSession = session;
      });
      tlsSocket.once('secureConnect', () => this.onReady());
      socket = tlsSocket;
    } else {
      socket = netConnect({ host: pool.host, port: pool.port });
      socket.once('connect', () => this.onReady());
    }
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', (err: Error) => this.lost(err));
    socket.on('close', () => this.lost(this.error ?? otherSideClosed()));
    if (pool.connectTimeoutMs > 0) {
      const ms = pool.connectTimeoutMs;
      this.connectTimer = setTimeout(() => {
        socket.destroy(new H1Error('UND_ERR_CONNECT_TIMEOUT', `connecting to ${pool.hostHeader} took longer than ${ms} ms`));
      }, ms);
      this.connectTimer.unref();
    }
  }

  private onReady(): void {
    if (this.connectTimer !== undefined) clearTimeout(this.connectTimer);
    if (this.state !== C_CONNECTING) return;
    this.socket.setKeepAlive(true, 60_000);
    const req = this.req;
    if (req !== undefined && !req.finished) this.send(req);
    else {
      this.req = undefined;
      this.pool.release(this);
    }
  }

  /** Writes a request (one write) and waits for its response. */
  send(req: H1Request): void {
    this.state = C_BUSY;
    this.req = req;
    req.conn = this;
    this.reused = this.served > 0;
    this.gotBytes = false;
    this.parse = S_HEAD;
    this.pendingLen = 0;
    this.keepAlive = true;
    const s = this.socket;
    s.ref();
    if (req.paused) s.pause();
    const head = req.head;
    const body = req.body;
    if (body === undefined) s.write(head, 'latin1');
    else if (body.length < COPY_BODY_BELOW) {
      const buf = Buffer.allocUnsafe(head.length + body.length);
      buf.write(head, 0, 'latin1');
      body.copy(buf, head.length);
      s.write(buf);
    } else {
      s.cork();
      s.write(head, 'latin1');
      s.write(body);
      s.uncork();
    }
    this.headersTimer.arm(req.headersTimeout);
  }

  /** Marks this socket idle: it waits for the next request until its keep-alive time runs out. */
  park(): void {
    this.state = C_IDLE;
    this.socket.unref();
    this.idleTimer.arm(this.idleMs);
  }

  resumeReading(): void {
    if (this.state !== C_BUSY) return;
    this.socket.resume();
    const req = this.req;
    if (req !== undefined && this.parse >= S_BODY_LENGTH) this.bodyTimer.arm(req.bodyTimeout);
  }

  /** Closes the socket and leaves the pool (idempotent). */
  teardown(): void {
    if (this.state === C_CLOSED) return;
    const wasIdle = this.state === C_IDLE;
    this.state = C_CLOSED;
    if (this.connectTimer !== undefined) clearTimeout(this.connectTimer);
    this.headersTimer.clear();
    this.bodyTimer.clear();
    this.idleTimer.clear();
    this.socket.destroy();
    this.pool.forget(this, wasIdle);
  }

  /**
   * The socket failed or was closed by the server. A socket taken from the pool can be closed by the
   * server at the moment we write to it (its keep-alive timer fired while our request was on the
   * way): that shows as ECONNRESET, EPIPE or EOF before any byte of the response. The request is then
   * sent once more on a fresh connection; a fresh connection's failure, or one after response bytes,
   * goes to the handler.
   */
  private lost(err: Error): void {
    this.error ??= err;
    if (this.state === C_CLOSED) return;
    const req = this.req;
    const retry = req !== undefined && this.state === C_BUSY && this.reused && !this.gotBytes && !req.retried && !req.finished && isRetryableLoss(err);
    if (req !== undefined) {
      this.req = undefined;
      req.conn = undefined;
    }
    if (retry) {
      req.retried = true;
      this.pool.connect(req);
    }
    this.teardown();
    if (req !== undefined && !retry) this.pool.fail(req, err);
  }

  private onEnd(): void {
    const req = this.req;
    if (req !== undefined && this.parse === S_BODY_CLOSE && !req.finished) {
      this.complete(req, false);
      return;
    }
    this.lost(otherSideClosed());
  }

  private onHeadersTimeout(): void {
    const req = this.req;
    if (req === undefined || this.state !== C_BUSY || this.parse !== S_HEAD) return;
    this.pool.fail(req, new H1Error('UND_ERR_HEADERS_TIMEOUT', `no complete response head within ${req.headersTimeout} ms`));
  }

  private onBodyTimeout(): void {
    const req = this.req;
    if (req === undefined || this.state !== C_BUSY || this.parse < S_BODY_LENGTH) return;
    if (req.paused) {
      this.bodyTimer.arm(req.bodyTimeout); // the reader is slow, not the upstream
      return;
    }
    this.pool.fail(req, new H1Error('UND_ERR_BODY_TIMEOUT', `no response body data for ${req.bodyTimeout} ms`));
  }

  private onIdleTimeout(): void {
    if (this.state === C_IDLE) this.teardown();
  }

  private onData(chunk: Buffer): void {
    const req = this.req;
    if (req === undefined || this.state !== C_BUSY) {
      this.teardown(); // bytes nobody asked for: the socket's framing can no longer be trusted
      return;
    }
    this.gotBytes = true;
    if (this.parse >= S_BODY_LENGTH) this.bodyTimer.touch();
    try {
      this.execute(req, chunk);
    } catch (err) {
      // A malformed response or a throwing handler: the socket goes, the handler hears once.
      this.pool.fail(req, asError(err));
    }
  }

  /** Runs the parser over one chunk; stops when the exchange ends or the socket changes hands. */
  private execute(req: H1Request, chunk: Buffer): void {
    const len = chunk.length;
    let off = 0;
    while (off < len && this.req === req && !req.finished) {
      switch (this.parse) {
        case S_HEAD:
          off = this.readHead(req, chunk, off);
          break;
        case S_BODY_LENGTH: {
          const n = Math.min(this.remaining, len - off);
          const piece = off === 0 && n === len ? chunk : chunk.subarray(off, off + n);
          off += n;
          this.remaining -= n;
          req.handler.onResponseData?.(req, piece);
          if (this.remaining === 0 && this.req === req && !req.finished) this.complete(req, off < len);
          break;
        }
        case S_CHUNK_SIZE: {
          const next = this.readLine(chunk, off, MAX_CHUNK_LINE, 'HPE_INVALID_CHUNK_SIZE');
          if (next === -1) return;
          off = next;
          this.chunkSize(this.line);
          break;
        }
        case S_CHUNK_DATA: {
          const n = Math.min(this.remaining, len - off);
          const piece = off === 0 && n === len ? chunk : chunk.subarray(off, off + n);
          off += n;
          this.remaining -= n;
          if (this.remaining === 0) this.parse = S_CHUNK_END;
          req.handler.onResponseData?.(req, piece);
          break;
        }
        case S_CHUNK_END: {
          const next = this.readLine(chunk, off, 2, 'HPE_STRICT');
          if (next === -1) return;
          if (this.line.length !== 0) throw new H1Error('HPE_STRICT', 'chunk data is not followed by CRLF');
          off = next;
          this.parse = S_CHUNK_SIZE;
          break;
        }
        case S_TRAILERS: {
          const next = this.readLine(chunk, off, this.pool.maxHeaderBytes - this.trailerBytes, 'UND_ERR_HEADERS_OVERFLOW');
          if (next === -1) return;
          off = next;
          this.trailerBytes += this.line.length + 2;
          if (this.line.length === 0) this.complete(req, off < len);
          break;
        }
        case S_BODY_CLOSE: {
          const piece = off === 0 ? chunk : chunk.subarray(off);
          off = len;
          req.handler.onResponseData?.(req, piece);
          break;
        }
        default:
          return;
      }
    }
  }

  /** Finds the end of the head; parses it, starts the response (skips 1xx) and returns the offset after it. */
  private readHead(req: H1Request, chunk: Buffer, off: number): number {
    const max = this.pool.maxHeaderBytes;
    let text: string;
    let next: number;
    if (this.pendingLen === 0) {
      const idx = chunk.indexOf(CRLFCRLF, off);
      if (idx === -1) {
        if (chunk.length - off >= max + 4) throw headTooLarge(max);
        this.append(chunk, off, chunk.length);
        return chunk.length;
      }
      if (idx - off > max) throw headTooLarge(max);
      text = chunk.toString('latin1', off, idx);
      next = idx + 4;
    } else {
      const before = this.pendingLen;
      const take = Math.min(chunk.length - off, max + 4 - before);
      this.append(chunk, off, off + take);
      const pending = this.pending as Buffer;
      const idx = pending.subarray(0, this.pendingLen).indexOf(CRLFCRLF, before > 3 ? before - 3 : 0);
      if (idx === -1) {
        if (this.pendingLen >= max + 4) throw headTooLarge(max);
        return off + take;
      }
      if (idx > max) throw headTooLarge(max);
      text = pending.toString('latin1', 0, idx);
      next = off + (idx + 4 - before);
      this.dropPending();
    }

    const head = parseResponseHead(text);
    const status = head.status;
    if (status < 200) {
      if (status === 101) throw new H1Error('UND_ERR_INFO', 'the upstream switched protocols (101), which this client does not support');
      return next; // 1xx informational: skipped, the final head follows
    }

    let keepAlive = head.minor === 1 ? !head.connectionClose : head.connectionKeepAlive && !head.connectionClose;
    let idleMs = this.pool.keepAliveMs;
    if (head.keepAliveHintMs !== -1) {
      const hinted = head.keepAliveHintMs - 1000;
      if (hinted <= 0) keepAlive = false;
      else if (hinted < idleMs) idleMs = hinted;
    }
    this.idleMs = idleMs;

    let bodyless = false;
    if (req.isHead || status === 204 || status === 304) bodyless = true;
    else if (head.lastCoding !== undefined) {
      // Both framings present: the coding wins, and the socket's framing is suspect from here on.
      if (head.contentLength !== -1) keepAlive = false;
      if (head.lastCoding === 'chunked') this.parse = S_CHUNK_SIZE;
      else {
        this.parse = S_BODY_CLOSE;
        keepAlive = false;
      }
    } else if (head.contentLength !== -1) {
      this.parse = S_BODY_LENGTH;
      this.remaining = head.contentLength;
      if (head.contentLength === 0) bodyless = true;
    } else {
      this.parse = S_BODY_CLOSE;
      keepAlive = false;
    }
    this.keepAlive = keepAlive;
    this.trailerBytes = 0;
    if (bodyless) this.parse = S_BODY_LENGTH; // nothing expected; completes below
    else this.bodyTimer.arm(req.bodyTimeout);

    req.rawHeaders = head.raw;
    req.handler.onResponseStart?.(req, status, head.headers, head.reason);
    if (bodyless && this.req === req && !req.finished) this.complete(req, next < chunk.length);
    return next;
  }

  private chunkSize(line: string): void {
    let end = 0;
    while (end < line.length && isHexDigit(line.charCodeAt(end))) end++;
    if (end === 0 || end > 13) throw new H1Error('HPE_INVALID_CHUNK_SIZE', 'invalid chunk size in the response');
    if (end < line.length) {
      // chunk-ext: BWS ";" …, ignored; still no control characters.
      const rest = line.slice(end);
      if (!CHUNK_EXT_START.test(rest) || BAD_VALUE.test(rest)) throw new H1Error('HPE_INVALID_CHUNK_SIZE', 'invalid chunk size line in the response');
    }
    const size = Number.parseInt(line.slice(0, end), 16);
    if (size === 0) this.parse = S_TRAILERS;
    else {
      this.remaining = size;
      this.parse = S_CHUNK_DATA;
    }
  }

  /** Reads one CRLF-terminated line (into `this.line`, CRLF cut) and returns the offset after it, or -1 (bytes kept). */
  private readLine(chunk: Buffer, off: number, limit: number, code: string): number {
    const lf = chunk.indexOf(10, off);
    if (lf === -1) {
      if (this.pendingLen + chunk.length - off > limit) throw new H1Error(code, 'a line of the response is too long');
      this.append(chunk, off, chunk.length);
      return -1;
    }
    let line: string;
    if (this.pendingLen === 0) {
      if (lf + 1 - off > limit) throw new H1Error(code, 'a line of the response is too long');
      line = chunk.toString('latin1', off, lf);
    } else {
      if (this.pendingLen + lf + 1 - off > limit) throw new H1Error(code, 'a line of the response is too long');
      this.append(chunk, off, lf);
      line = (this.pending as Buffer).toString('latin1', 0, this.pendingLen);
      this.dropPending();
    }
    if (line.length === 0 || line.charCodeAt(line.length - 1) !== 13) throw new H1Error('HPE_CR_EXPECTED', 'a line of the response does not end with CRLF');
    this.line = line.slice(0, -1);
    return lf + 1;
  }

  /** Keeps bytes of an incomplete head or line; the buffer grows by doubling (no quadratic copying). */
  private append(chunk: Buffer, start: number, end: number): void {
    const need = this.pendingLen + (end - start);
    let pending = this.pending;
    if (pending === undefined || pending.length < need) {
      const grown = Buffer.allocUnsafe(Math.max(need, (pending?.length ?? 0) * 2, 1024));
      if (pending !== undefined && this.pendingLen > 0) pending.copy(grown, 0, 0, this.pendingLen);
      pending = grown;
      this.pending = grown;
    }
    chunk.copy(pending, this.pendingLen, start, end);
    this.pendingLen = need;
  }

  private dropPending(): void {
    this.pendingLen = 0;
    if (this.pending !== undefined && this.pending.length > KEEP_PENDING_BELOW) this.pending = undefined;
  }

  /** The response is complete: the socket goes back to the pool (or closes), then the handler hears. */
  private complete(req: H1Request, extraBytes: boolean): void {
    req.finished = true;
    this.req = undefined;
    req.conn = undefined;
    this.parse = S_IDLE;
    this.served++;
    // Bytes after the end of a response on a one-request-at-a-time socket: the framing is off, so
    // the socket must not carry another request.
    if (this.keepAlive && !extraBytes && this.state === C_BUSY) {
      if (this.socket.isPaused()) this.socket.resume();
      this.pool.release(this);
    } else this.teardown();
    try {
      req.handler.onResponseEnd?.(req, EMPTY_TRAILERS);
    } catch {
      // The exchange is over; a throwing handler cannot be told anything more.
    }
  }
}

function isHexDigit(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

function headTooLarge(max: number): H1Error {
  return new H1Error('UND_ERR_HEADERS_OVERFLOW', `the response head exceeds ${max} bytes`);
}

function toBody(body: H1DispatchOptions['body']): Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return buf.length === 0 ? undefined : buf;
}

function timeoutOf(value: number | null | undefined): number {
  return value === undefined || value === null ? DEFAULT_TIMEOUT_MS : value;
}

/** The pool of one origin. */
class H1Pool implements H1Agent {
  readonly secure: boolean;
  readonly host: string;
  readonly port: number;
  readonly hostHeader: string;
  readonly servername: string | undefined;
  readonly connectTimeoutMs: number;
  readonly keepAliveMs: number;
  readonly maxHeaderBytes: number;
  readonly tlsOptions: ConnectionOptions;
  tlsSession: Buffer | undefined;
  private readonly limit: number;
  private readonly idle: H1Conn[] = [];
  private readonly queue: H1Request[] = [];
  private open = 0;
  private closing = false;
  private readonly closeWaiters: (() => void)[] = [];

  constructor(options: H1AgentOptions) {
    const url = new URL(options.origin);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new H1Error('UND_ERR_INVALID_ARG', `unsupported origin protocol ${url.protocol}`);
    this.secure = url.protocol === 'https:';
    this.hostHeader = url.host;
    this.host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    this.port = url.port === '' ? (this.secure ? 443 : 80) : Number(url.port);
    this.servername = isIP(this.host) === 0 ? this.host : undefined;
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.keepAliveMs = options.keepAliveTimeoutMs ?? 30_000;
    this.maxHeaderBytes = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
    this.limit = options.connections ?? Number.POSITIVE_INFINITY;
    const tlsOptions: ConnectionOptions = {};
    if (options.tls?.ca !== undefined) tlsOptions.ca = options.tls.ca as string | Buffer | (string | Buffer)[];
    if (options.tls?.rejectUnauthorized !== undefined) tlsOptions.rejectUnauthorized = options.tls.rejectUnauthorized;
    this.tlsOptions = tlsOptions;
  }

  dispatch(options: H1DispatchOptions, handler: H1Handler): void {
    let head: string;
    let body: Buffer | undefined;
    try {
      if (this.closing) throw new H1Error('UND_ERR_CLOSED', 'the upstream agent is closed');
      body = toBody(options.body);
      head = this.serialize(options, body);
    } catch (err) {
      const req = new H1Request(this, handler, '', undefined, false, 0, 0);
      req.finished = true;
      try {
        handler.onResponseError?.(req, asError(err));
      } catch {
        // nothing more to tell
      }
      return;
    }
    const req = new H1Request(this, handler, head, body, options.method === 'HEAD', timeoutOf(options.headersTimeout), timeoutOf(options.bodyTimeout));
    try {
      handler.onRequestStart?.(req, REQUEST_CONTEXT);
    } catch (err) {
      this.fail(req, asError(err));
      return;
    }
    if (!req.finished) this.acquire(req);
  }

  /** The request head; refuses anything that could break the framing (CR, LF, NUL, framing headers). */
  private serialize(options: H1DispatchOptions, body: Buffer | undefined): string {
    const { method, path } = options;
    if (!TOKEN.test(method)) throw new H1Error('UND_ERR_INVALID_ARG', 'invalid request method');
    if (path.length === 0 || BAD_PATH.test(path)) throw new H1Error('UND_ERR_INVALID_ARG', 'invalid request path');
    let head = method + ' ' + path + ' HTTP/1.1\r\nhost: ' + this.hostHeader + '\r\n';
    const headers = options.headers;
    if (headers !== undefined && headers !== null) {
      if (headers.length % 2 !== 0) throw new H1Error('UND_ERR_INVALID_ARG', 'request headers must be name/value pairs');
      for (let i = 0; i < headers.length; i += 2) {
        const name = headers[i] as string;
        const value = headers[i + 1] as string;
        if (!isHttpToken(name)) throw new H1Error('UND_ERR_INVALID_ARG', 'invalid request header name');
        if (hasInvalidFieldValueChar(value)) throw new H1Error('UND_ERR_INVALID_ARG', `invalid character in request header '${name}'`);
        if (RESERVED_LENGTHS.has(name.length) && RESERVED_REQUEST_HEADERS.has(name.toLowerCase())) throw new H1Error('UND_ERR_INVALID_ARG', `request header '${name}' is set by the agent`);
        head += name + ': ' + value + '\r\n';
      }
    }
    if (body !== undefined) head += 'content-length: ' + body.length + '\r\n';
    else if (method === 'POST' || method === 'PUT' || method === 'PATCH') head += 'content-length: 0\r\n';
    return head + '\r\n';
  }

  /** Idle socket (most recent first), else a new one within the bound, else the FIFO queue. */
  private acquire(req: H1Request): void {
    const idle = this.idle;
    const conn = idle.pop();
    if (conn !== undefined) {
      conn.send(req);
      return;
    }
    if (this.open < this.limit) {
      this.connect(req);
      return;
    }
    req.queued = true;
    this.queue.push(req);
  }

  /** Opens a socket for `req` (the retry path may go one over the bound while the failed socket closes). */
  connect(req: H1Request): void {
    this.open++;
    const conn = new H1Conn(this);
    conn.req = req;
    req.conn = conn;
  }

  /** A socket is free: the oldest waiting request gets it, else it waits in the pool. */
  release(conn: H1Conn): void {
    const next = this.queue.shift();
    if (next !== undefined) {
      next.queued = false;
      conn.send(next);
      return;
    }
    if (this.closing) {
      conn.teardown();
      return;
    }
    conn.park();
    this.idle.push(conn);
  }

  /** Bookkeeping once a socket closed; waiting requests may now open one. */
  forget(conn: H1Conn, wasIdle: boolean): void {
    if (wasIdle) {
      const i = this.idle.indexOf(conn);
      if (i !== -1) this.idle.splice(i, 1);
    }
    this.open--;
    while (this.queue.length > 0 && this.open < this.limit) {
      const next = this.queue.shift() as H1Request;
      next.queued = false;
      this.connect(next);
    }
    if (this.closing && this.open === 0) {
      for (const resolve of this.closeWaiters.splice(0)) resolve();
    }
  }

  /** Ends a request with an error: its socket (when it has one in use) is destroyed; the handler hears once. */
  fail(req: H1Request, err: Error): void {
    if (req.finished) return;
    req.finished = true;
    const conn = req.conn;
    if (conn !== undefined) {
      req.conn = undefined;
      if (conn.req === req) {
        conn.req = undefined;
        // A socket still connecting is kept: once up it serves the next request or idles.
        if (conn.state !== C_CONNECTING) conn.teardown();
      }
    } else if (req.queued) {
      req.queued = false;
      const i = this.queue.indexOf(req);
      if (i !== -1) this.queue.splice(i, 1);
    }
    try {
      req.handler.onResponseError?.(req, err);
    } catch {
      // nothing more to tell
    }
  }

  close(): Promise<void> {
    this.closing = true;
    for (const conn of this.idle.slice()) conn.teardown();
    if (this.open === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.closeWaiters.push(resolve));
  }
}

/** Creates a keep-alive HTTP/1.1 agent for one origin (see {@link H1Agent}). */
export function createH1Agent(options: H1AgentOptions): H1Agent {
  return new H1Pool(options);
}
