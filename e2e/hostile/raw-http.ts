// Hand-written HTTP/1.1 on raw sockets, so attacks can send bytes no well-behaved client would
// (CR/LF/NUL, conflicting framing, pipelined requests), plus a small response parser.
import net from 'node:net';

/** What came back on one raw connection. */
export interface RawExchange {
  /** Every byte received. */
  readonly data: Buffer;
  /** The responses parsed from `data`, in order. */
  readonly responses: ParsedResponse[];
  /** The peer closed (or reset) the connection before our deadline. */
  readonly closed: boolean;
  /** Our deadline ended the exchange. */
  readonly timedOut: boolean;
  /** Socket error code, if the connection failed. */
  readonly error?: string;
}

/** One HTTP response parsed from raw bytes. */
export interface ParsedResponse {
  readonly status: number;
  readonly reason: string;
  /** Header lines, names lowercased. */
  readonly headers: Array<[string, string]>;
  readonly body: Buffer;
}

/** Header value (first line) of a parsed response. */
export function header(res: ParsedResponse, name: string): string | undefined {
  return res.headers.find(([n]) => n === name.toLowerCase())?.[1];
}

function decodeChunked(buf: Buffer): { body: Buffer; used: number } | undefined {
  const parts: Buffer[] = [];
  let pos = 0;
  for (let guard = 0; guard < 100_000; guard++) {
    const eol = buf.indexOf('\r\n', pos);
    if (eol === -1) return undefined;
    const size = Number.parseInt(buf.subarray(pos, eol).toString('latin1').split(';')[0] ?? '', 16);
    if (!Number.isFinite(size)) return undefined;
    pos = eol + 2;
    if (size === 0) {
      // Trailers until an empty line.
      const end = buf.indexOf('\r\n\r\n', pos - 2);
      if (end === -1) return undefined;
      return { body: Buffer.concat(parts), used: end + 4 };
    }
    if (buf.length < pos + size + 2) return undefined;
    parts.push(buf.subarray(pos, pos + size));
    pos += size + 2;
  }
  return undefined;
}

/** Parses as many complete responses as `data` holds; a last response without framing takes the rest. */
export function parseResponses(data: Buffer, _closed = false): ParsedResponse[] {
  const out: ParsedResponse[] = [];
  let rest = data;
  for (let guard = 0; guard < 100 && rest.length > 0; guard++) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd === -1) break;
    const lines = rest.subarray(0, headEnd).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0] ?? '');
    if (m === null) break;
    const headers = lines.slice(1).map((l): [string, string] => {
      const i = l.indexOf(':');
      return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()];
    });
    const status = Number(m[1]);
    const bodyStart = rest.subarray(headEnd + 4);
    const te = headers.find(([n]) => n === 'transfer-encoding')?.[1];
    const cl = headers.find(([n]) => n === 'content-length')?.[1];
    let body: Buffer;
    let used: number;
    // A CONNECT's 200 carries no body: what follows is the tunnel.
    if (status === 100 || status === 101 || status === 204 || status === 304 || /connection established/i.test(m[2] ?? '')) {
      body = Buffer.alloc(0);
      used = 0;
    } else if (te !== undefined && /chunked/i.test(te)) {
      const decoded = decodeChunked(bodyStart);
      if (decoded === undefined) {
        out.push({ status, reason: m[2] ?? '', headers, body: bodyStart });
        break;
      }
      body = decoded.body;
      used = decoded.used;
    } else if (cl !== undefined) {
      used = Math.min(Number(cl), bodyStart.length);
      body = bodyStart.subarray(0, used);
    } else {
      body = bodyStart;
      used = bodyStart.length;
    }
    out.push({ status, reason: m[2] ?? '', headers, body });
    rest = bodyStart.subarray(used);
  }
  return out;
}

/** Options of {@link rawExchange}. */
export interface RawOptions {
  readonly host?: string;
  /** Hard deadline of the whole exchange (default 5 s). */
  readonly timeoutMs?: number;
  /** Stop once this many complete responses arrived (default: wait for close or deadline). */
  readonly responses?: number;
  /** Pause between chunks when `payload` is an array (default 0). */
  readonly gapMs?: number;
}

/** Connects, writes `payload` (chunks in order), and collects the answer until close, `responses` or the deadline. */
export function rawExchange(port: number, payload: string | Buffer | ReadonlyArray<string | Buffer>, options: RawOptions = {}): Promise<RawExchange> {
  const chunks = Array.isArray(payload) ? payload : [payload as string | Buffer];
  return new Promise((resolve) => {
    const socket = net.connect({ host: options.host ?? '127.0.0.1', port });
    const received: Buffer[] = [];
    let settled = false;
    let error: string | undefined;
    const finish = (closed: boolean, timedOut: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const data = Buffer.concat(received);
      resolve({ data, responses: parseResponses(data, closed), closed, timedOut, ...(error !== undefined ? { error } : {}) });
    };
    const timer = setTimeout(() => finish(false, true), options.timeoutMs ?? 5_000);
    socket.on('data', (c: Buffer) => {
      received.push(c);
      if (options.responses !== undefined && parseResponses(Buffer.concat(received), false).filter(complete).length >= options.responses) {
        finish(false, false);
      }
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
    });
    socket.on('close', () => finish(true, false));
    socket.on('connect', async () => {
      for (const c of chunks) {
        if (socket.destroyed) return;
        socket.write(c);
        if (options.gapMs) await new Promise((r) => setTimeout(r, options.gapMs));
      }
    });
  });
}

function complete(r: ParsedResponse): boolean {
  const cl = header(r, 'content-length');
  return cl === undefined || r.body.length >= Number(cl);
}

/** Joins request lines with CRLF and ends the head; `body` follows as is. */
export function httpRequest(lines: readonly string[], body: string | Buffer = ''): Buffer {
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8')]);
}
