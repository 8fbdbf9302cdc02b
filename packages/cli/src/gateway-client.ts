import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { CliError } from './cli-error.js';
import type { GatewayTarget } from './resolve-gateway.js';

/** An error answer of the gateway (`{ error: { code, message } }`). */
export class GatewayApiError extends CliError {
  readonly status: number;
  /** The rest of the error body (e.g. a refresh status next to the error). */
  readonly body: Readonly<Record<string, unknown>>;

  constructor(status: number, code: string, message: string, body: Record<string, unknown>, hint?: string) {
    super(code, message, hint === undefined ? {} : { hint });
    this.name = 'GatewayApiError';
    this.status = status;
    this.body = body;
  }
}

/** Minimal JSON client for the gateway's HTTP API. */
export interface GatewayClient {
  readonly target: GatewayTarget;
  request<T = unknown>(method: string, path: string, body?: unknown, options?: { timeoutMs?: number }): Promise<T>;
  /** Like request, but answers undefined for a 404. */
  requestOptional<T = unknown>(method: string, path: string): Promise<T | undefined>;
}

const DEFAULT_TIMEOUT_MS = 60_000;

/** Encodes one path segment (a provider, route or sandbox name). */
export function seg(value: string): string {
  return encodeURIComponent(value);
}

function hintFor(status: number, code: string, target: GatewayTarget): string | undefined {
  if (status === 401 || code === 'unauthorized' || code === 'unauthenticated') {
    return target.name
      ? `The admin token for gateway '${target.name}' was refused. Re-register it with \`openshell gateway add ${target.name} --url ${target.url}\` (token on stdin).`
      : 'Set OPENSHELL_ADMIN_TOKEN to the gateway admin token.';
  }
  return undefined;
}

/** Creates a client for `target`. Requests carry the admin token when the target has one. */
export function createGatewayClient(target: GatewayTarget): GatewayClient {
  const base = new URL(target.url.endsWith('/') ? target.url : `${target.url}/`);
  const ca = target.caCertFile ? readCa(target.caCertFile) : undefined;

  async function send(method: string, path: string, body: unknown, timeoutMs: number): Promise<{ status: number; json: unknown; text: string }> {
    const url = new URL(path.replace(/^\//, ''), base);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    if (target.token) headers.authorization = `Bearer ${target.token.reveal()}`;
    const doRequest = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = doRequest(url, { method, headers, timeout: timeoutMs, ...(ca ? { ca } : {}) }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text === '' ? undefined : JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, json, text });
        });
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.end(payload);
    });
  }

  async function request<T>(method: string, path: string, body?: unknown, options?: { timeoutMs?: number }): Promise<T> {
    let res: { status: number; json: unknown; text: string };
    try {
      res = await send(method, path, body, options?.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new CliError('gateway_unreachable', `cannot reach the gateway at ${target.url} (${code})`, {
        hint: target.via === 'active' || target.via === 'flag'
          ? `Is it running? Check with \`openshell gateway status\`, or start it with \`openshell gateway start${target.name && target.name !== 'local' ? ` --name ${target.name}` : ''}\`.`
          : 'Check OPENSHELL_GATEWAY_URL, or unset it to use the active gateway.',
        cause: err,
      });
    }
    if (res.status >= 200 && res.status < 300) return res.json as T;
    const obj = (typeof res.json === 'object' && res.json !== null ? res.json : {}) as Record<string, unknown>;
    const error = (typeof obj.error === 'object' && obj.error !== null ? obj.error : {}) as Record<string, unknown>;
    const code = typeof error.code === 'string' ? error.code : `http_${res.status}`;
    const message = typeof error.message === 'string' ? error.message : `the gateway answered HTTP ${res.status} to ${method} ${path}`;
    throw new GatewayApiError(res.status, code, message, obj, hintFor(res.status, code, target));
  }

  return {
    target,
    request,
    async requestOptional<T>(method: string, path: string): Promise<T | undefined> {
      try {
        return await request<T>(method, path);
      } catch (err) {
        if (err instanceof GatewayApiError && err.status === 404) return undefined;
        throw err;
      }
    },
  };
}

function readCa(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new CliError('gateway_ca_unreadable', `cannot read the gateway CA certificate ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, {
      hint: 'Fix the path with `openshell gateway add NAME --url URL --ca-cert FILE`.',
    });
  }
}
