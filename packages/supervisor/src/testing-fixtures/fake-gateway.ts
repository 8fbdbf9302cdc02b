// A small loopback stand-in for the gateway's sandbox API (environment, long-poll bundle,
// credential-rejected), used until the real gateway can be started from these tests. Every bundle
// it serves goes through core's parseRouteBundle first, so it cannot drift from the contract.

import { createHash } from 'node:crypto';
import { once } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type BundleRoute, inferenceProfileFor, parseRouteBundle, type RouteBundle } from '@openshell/core';

export interface FakeGatewayRequest {
  readonly method: string;
  readonly url: string;
  readonly authorized: boolean;
  readonly body: string;
}

export interface FakeGateway {
  readonly url: string;
  readonly requests: readonly FakeGatewayRequest[];
  /** Replaces the bundle (a new revision is computed) and wakes long-polls. */
  setBundle(bundle: Omit<RouteBundle, 'revision' | 'schemaVersion'>): void;
  bundle(): RouteBundle;
  /** What credential-rejected does: return the routes after a rotation (or the same to refuse). */
  onRejected(handler: (route: string, fingerprint: string) => Omit<RouteBundle, 'revision' | 'schemaVersion'> | undefined): void;
  /** Headers credential-rejected adds (`openshell-refresh-result`, `openshell-refresh-message`), as the refresh engine does. */
  setRejectedResult(result: string | undefined, message?: string): void;
  /** Makes the gateway answer every request with this status (e.g. 503), or undefined to heal. */
  failWith(status: number | undefined): void;
  close(): Promise<void>;
}

export function fingerprintOf(token: string): string {
  return createHash('sha256').update(`fp:${token}`).digest('hex').slice(0, 12);
}

/**
 * An anthropic-oauth route as the real gateway resolves it (DESIGN §3.1, §3.5): protocols, header
 * policy and client environment come from core's built-in profile, so this fake cannot drift from it.
 */
export function anthropicOauthRoute(options: { baseUrl: string; token: string; expiresAt?: number; name?: string; model?: string }): BundleRoute {
  const profile = inferenceProfileFor('anthropic-oauth');
  if (profile === undefined) throw new Error('core has no anthropic-oauth inference profile');
  return {
    name: options.name ?? 'inference.local',
    providerName: 'claude-plan',
    providerType: 'anthropic-oauth',
    baseUrl: options.baseUrl,
    protocols: [...profile.protocols],
    ...(options.model !== undefined ? { model: options.model } : {}),
    timeouts: { connectMs: 10_000, firstByteMs: 120_000, idleMs: 300_000 },
    auth: { style: 'bearer', headerName: 'authorization', value: options.token },
    headerPolicy: {
      required: profile.requiredHeaders.map((h) => ({ name: h.name.toLowerCase(), value: h.value, merge: h.merge })),
      defaults: { ...profile.defaultHeaders },
      passthrough: [...profile.passthroughHeaders],
    },
    credential: { fingerprint: fingerprintOf(options.token), ...(options.expiresAt !== undefined ? { expiresAt: options.expiresAt } : {}), refreshable: true },
    clientEnv: { ...profile.clientEnv },
  };
}

export async function startFakeGateway(options: {
  token: string;
  environment?: Record<string, string>;
  bundle: Omit<RouteBundle, 'revision' | 'schemaVersion'>;
}): Promise<FakeGateway> {
  let revisionCounter = 0;
  const make = (b: Omit<RouteBundle, 'revision' | 'schemaVersion'>): RouteBundle =>
    parseRouteBundle({ schemaVersion: 1, revision: `r${++revisionCounter}`, ...b });
  let current = make(options.bundle);
  let failure: number | undefined;
  let rejectedResult: { result: string | undefined; message: string | undefined } = { result: undefined, message: undefined };
  let rejectedHandler: ((route: string, fp: string) => Omit<RouteBundle, 'revision' | 'schemaVersion'> | undefined) | undefined;
  const waiters = new Set<() => void>();
  const requests: FakeGatewayRequest[] = [];
  const sockets = new Set<Socket>();

  const send = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const authorized = req.headers.authorization === `Bearer ${options.token}`;
    requests.push({ method: req.method ?? '', url: req.url ?? '', authorized, body });
    if (failure !== undefined) return send(res, failure, { error: { code: 'unavailable', message: 'forced failure' } });
    if (!authorized) return send(res, 401, { error: { code: 'unauthorized', message: 'bad sandbox token' } });
    const url = new URL(req.url ?? '/', 'http://gateway');
    if (req.method === 'GET' && url.pathname === '/v1/sandbox/environment') {
      return send(res, 200, { revision: 'env1', environment: options.environment ?? {} });
    }
    if (req.method === 'GET' && url.pathname === '/v1/sandbox/bundle') {
      const known = url.searchParams.get('revision');
      const wait = Math.min(Number(url.searchParams.get('waitSeconds') ?? '0') || 0, 30);
      if (known !== null && known === current.revision && wait > 0) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(done, wait * 1000);
          function done() {
            clearTimeout(t);
            waiters.delete(done);
            resolve();
          }
          waiters.add(done);
          res.once('close', done);
        });
      }
      if (res.destroyed) return;
      return send(res, 200, current);
    }
    const m = /^\/v1\/sandbox\/routes\/([^/]+)\/credential-rejected$/.exec(url.pathname);
    if (req.method === 'POST' && m !== null) {
      const { fingerprint } = JSON.parse(body) as { fingerprint: string };
      const next = rejectedHandler?.(decodeURIComponent(m[1] ?? ''), fingerprint);
      if (next !== undefined) {
        current = make(next);
        for (const w of [...waiters]) w();
      }
      if (rejectedResult.result !== undefined) res.setHeader('openshell-refresh-result', rejectedResult.result);
      if (rejectedResult.message !== undefined) res.setHeader('openshell-refresh-message', rejectedResult.message);
      return send(res, 200, current);
    }
    return send(res, 404, { error: { code: 'not_found', message: `no route ${req.method} ${url.pathname}` } });
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => send(res, 500, { error: { code: 'internal', message: String(err) } }));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setBundle(b) {
      current = make(b);
      for (const w of [...waiters]) w();
    },
    bundle: () => current,
    onRejected(h) {
      rejectedHandler = h;
    },
    setRejectedResult(result, message) {
      rejectedResult = { result, message };
    },
    failWith(status) {
      failure = status;
    },
    async close() {
      for (const w of [...waiters]) w();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
