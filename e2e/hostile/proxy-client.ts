// A sandbox client speaking to a supervisor's proxy the way curl does with HTTP_PROXY: absolute-URI
// requests to http://inference.local with the run secret, with a hard client-side deadline, so a
// fault can never make a test wait unbounded.
import http from 'node:http';
import type { RunningSupervisor } from './system.js';

export interface ProxyAnswer {
  /** 0 when no status arrived. */
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  /** The response ended normally (all bytes, clean end). */
  readonly complete: boolean;
  /** Client-side error (socket hang up, reset, our deadline). */
  readonly error?: string;
  readonly ms: number;
}

/** One request through the proxy; never rejects. */
export function viaProxy(
  supervisor: RunningSupervisor,
  options: { method?: string; path?: string; body?: string; headers?: Record<string, string>; deadlineMs?: number; agent?: http.Agent | false } = {},
): Promise<ProxyAnswer> {
  const started = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    const chunks: Buffer[] = [];
    let status = 0;
    let headers: http.IncomingHttpHeaders = {};
    const done = (complete: boolean, error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ status, headers, body: Buffer.concat(chunks), complete, ...(error !== undefined ? { error } : {}), ms: Date.now() - started });
    };
    const req = http.request({
      host: '127.0.0.1',
      port: supervisor.proxyPort,
      method: options.method ?? 'POST',
      path: `http://inference.local${options.path ?? '/v1/messages'}`,
      agent: options.agent ?? false,
      headers: {
        host: 'inference.local',
        'proxy-authorization': supervisor.proxyAuth,
        'content-type': 'application/json',
        ...(options.body !== undefined ? { 'content-length': String(Buffer.byteLength(options.body)) } : {}),
        ...options.headers,
      },
    });
    const timer = setTimeout(() => {
      req.destroy(new Error('client deadline'));
      done(false, 'client deadline');
    }, options.deadlineMs ?? 30_000);
    req.on('response', (res) => {
      status = res.statusCode ?? 0;
      headers = res.headers;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done(res.complete));
      res.on('aborted', () => done(false, 'aborted'));
      res.on('error', (e) => done(false, e.message));
      res.on('close', () => done(res.complete, res.complete ? undefined : 'closed before the end'));
    });
    req.on('error', (e) => done(false, e.message));
    req.end(options.body);
  });
}

/** Count of the process's open sockets (net.Socket handles; servers and pipes aside). */
export function openSockets(): number {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  return handles.filter((h) => h !== null && typeof h === 'object' && (h as { constructor?: { name?: string } }).constructor?.name === 'Socket' && !(h as { _handle?: { fd?: number } })._handle?.fd?.toString().match(/^[012]$/)).length;
}
