// The whole system for hostile tests: a fake Anthropic upstream, the real gateway (SQLite), a
// sandbox bound to an anthropic-oauth provider, a real supervisor (runSupervisor, isolation none)
// whose child just waits, the router's forwarder behind a plain loopback server, and sentinel
// listeners on loopback addresses no sandbox may reach (127.0.0.2, and 127.0.0.1 on a port outside
// the allow-list). Everything listens on loopback only.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BundleRoute, parseRouteBundle, Secret } from '@openshell/core';
import { createForwarder, type Forwarder } from '@openshell/router';
import { createGateway, type Gateway, type GatewayOptions } from '@openshell/server';
import { runSupervisor, type SupervisorResult } from '@openshell/supervisor';
import { createFakeAnthropic, type FakeAnthropic, type FakeAnthropicOptions } from '@openshell/testing';

/** A TCP listener that counts every connection attempt and every byte (it must see none). */
export interface Sentinel {
  readonly host: string;
  readonly port: number;
  readonly connections: () => number;
  readonly bytes: () => number;
  close(): Promise<void>;
}

export async function startSentinel(host: string): Promise<Sentinel> {
  let connections = 0;
  let bytes = 0;
  const sockets = new Set<Socket>();
  const server = net.createServer((s) => {
    connections++;
    sockets.add(s);
    s.on('data', (c: Buffer) => {
      bytes += c.length;
    });
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(0, host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    host,
    port,
    connections: () => connections,
    bytes: () => bytes,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A running supervisor whose child waits until stopped. */
export interface RunningSupervisor {
  readonly proxyPort: number;
  /** `Proxy-Authorization` value carrying this run's nonce. */
  readonly proxyAuth: string;
  /** The nonce itself (never to be seen upstream). */
  readonly nonce: string;
  readonly logs: string[];
  /** Resolves when the supervisor returned (it must not before stop()). */
  readonly done: Promise<SupervisorResult>;
  readonly exited: () => boolean;
  stop(): Promise<SupervisorResult>;
}

/** Options of {@link startSystem}. */
export interface SystemOptions {
  readonly api?: FakeAnthropicOptions;
  /** Extra gateway options (e.g. refresh, databaseUrl). */
  readonly gateway?: Partial<GatewayOptions>;
  /** Route `timeoutSeconds` (first byte). */
  readonly timeoutSeconds?: number;
  /** Puts something in front of the fake upstream; returns the origin the provider's base URL uses. */
  readonly wrapUpstream?: (apiUrl: string) => Promise<string>;
  /** Start a supervisor (default true). */
  readonly supervisor?: boolean;
}

export interface HostileSystem {
  readonly dir: string;
  readonly api: FakeAnthropic;
  gw: Gateway;
  readonly gatewayPort: number;
  readonly adminToken: string;
  readonly sandboxToken: string;
  readonly upstreamToken: string;
  readonly gatewayLogs: string[];
  readonly supervisor: RunningSupervisor | undefined;
  /** 127.0.0.2 (outside the allow-list). */
  readonly sentinel: Sentinel;
  /** 127.0.0.1 on a port outside the allow-list. */
  readonly localSentinel: Sentinel;
  /** The route of the sandbox's current bundle. */
  route(): Promise<BundleRoute>;
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }>;
  startSupervisor(extra?: { waitSeconds?: number }): Promise<RunningSupervisor>;
  /** Closes the gateway and reopens it on the same port, data dir and key. */
  restartGateway(downMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** A haiku Messages request body (no identity gate). */
export function messagesBody(text = 'hostile', extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 16, messages: [{ role: 'user', content: text }], ...extra });
}

export async function startSystem(options: SystemOptions = {}): Promise<HostileSystem> {
  const dir = await mkdtemp(join(tmpdir(), 'osh-hostile-'));
  const upstreamToken = `sk-ant-oat01-hostile-${randomBytes(16).toString('hex')}`;
  const api = await createFakeAnthropic({ accessTokens: [upstreamToken], ...options.api });
  const gatewayLogs: string[] = [];
  const kek = randomBytes(32);
  const gatewayOptions = (port: number): GatewayOptions => ({
    dataDir: join(dir, 'data'),
    configDir: join(dir, 'config'),
    kek,
    listen: { host: '127.0.0.1', port },
    refresh: false,
    logLevel: 'info',
    logStream: { write: (s: string) => gatewayLogs.push(String(s)) } as unknown as NodeJS.WritableStream,
    ...options.gateway,
  });
  let gw = await createGateway(gatewayOptions(0));
  const gatewayUrl = await gw.start();
  const gatewayPort = Number(new URL(gw.url ?? gatewayUrl).port);
  const adminToken = (await readFile(join(dir, 'config', 'gateways', 'local.token'), 'utf8')).trim();
  const url = () => `http://127.0.0.1:${gatewayPort}`;
  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url()}${path}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  const created = await admin('POST', '/v1/providers', {
    name: 'claude-plan',
    type: 'claude-plan',
    credentials: { ANTHROPIC_OAUTH_TOKEN: upstreamToken },
    config: { ANTHROPIC_OAUTH_BASE_URL: `${options.wrapUpstream === undefined ? api.url : await options.wrapUpstream(api.url)}/v1` },
  });
  if (created.status !== 201) throw new Error(`provider create failed: ${JSON.stringify(created.json)}`);
  const routeBody = { provider: 'claude-plan', verify: false, ...(options.timeoutSeconds !== undefined ? { timeoutSeconds: options.timeoutSeconds } : {}) };
  const put = await admin('PUT', '/v1/inference/routes/inference.local', routeBody);
  if (put.status !== 200) throw new Error(`route failed: ${JSON.stringify(put.json)}`);
  const sandbox = await admin('POST', '/v1/sandboxes', { name: 'hostile', providers: ['claude-plan'] });
  if (sandbox.status !== 201) throw new Error(`sandbox failed: ${JSON.stringify(sandbox.json)}`);
  const sandboxToken = sandbox.json.token as string;
  const sentinel = await startSentinel('127.0.0.2');
  const localSentinel = await startSentinel('127.0.0.1');
  await mkdir(join(dir, 'ws'), { recursive: true });

  const startSupervisor = (extra: { waitSeconds?: number } = {}) => launchSupervisor({ gatewayUrl: url(), sandbox: 'hostile', token: sandboxToken, workspace: join(dir, 'ws'), ...extra });

  const supervisor = options.supervisor === false ? undefined : await startSupervisor();
  const system: HostileSystem = {
    dir,
    api,
    gw,
    gatewayPort,
    adminToken,
    sandboxToken,
    upstreamToken,
    gatewayLogs,
    supervisor,
    sentinel,
    localSentinel,
    admin,
    startSupervisor,
    async route() {
      const res = await fetch(`${url()}/v1/sandbox/bundle`, { headers: { authorization: `Bearer ${sandboxToken}` } });
      const bundle = parseRouteBundle(await res.json());
      const route = bundle.routes.find((r) => r.name === 'inference.local');
      if (route === undefined) throw new Error('no inference.local route in the bundle');
      return route;
    },
    async restartGateway(downMs = 0) {
      await gw.close();
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      gw = await createGateway(gatewayOptions(gatewayPort));
      await gw.start();
      system.gw = gw;
    },
    async close() {
      if (supervisor !== undefined && !supervisor.exited()) await supervisor.stop().catch(() => undefined);
      await gw.close().catch(() => undefined);
      await api.close();
      await sentinel.close();
      await localSentinel.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return system;
}

/** Starts a real supervisor (isolation none) whose child waits until stopped; resolves once the child runs. */
export async function launchSupervisor(o: {
  gatewayUrl: string;
  sandbox: string;
  token: string;
  workspace: string;
  waitSeconds?: number;
  /** Default debug (every log line kept in memory for canary scans); the soak uses warn. */
  logLevel?: 'debug' | 'info' | 'warn';
}): Promise<RunningSupervisor> {
  const logs: string[] = [];
  const abort = new AbortController();
  let exited = false;
  let ready: (env: Readonly<Record<string, string>>) => void = () => undefined;
  const readyP = new Promise<Readonly<Record<string, string>>>((r) => {
    ready = r;
  });
  const done = runSupervisor({
    gatewayUrl: o.gatewayUrl,
    sandbox: o.sandbox,
    token: new Secret(o.token),
    command: [process.execPath, '-e', 'setTimeout(() => {}, 600000)'],
    workspace: o.workspace,
    isolation: 'none',
    stdio: 'pipe',
    forwardSignals: false,
    logLevel: o.logLevel ?? 'debug',
    logStream: { write: (s: string) => logs.push(s) },
    waitSeconds: o.waitSeconds ?? 5,
    signal: abort.signal,
    onReady: (info) => ready(info.childEnv),
  });
  done.then(
    () => {
      exited = true;
    },
    () => {
      exited = true;
    },
  );
  const env = await Promise.race([readyP, done.then((r) => Promise.reject(new Error(`supervisor ended early: ${JSON.stringify(r)}\n${logs.join('')}`)))]);
  const proxy = new URL(env.HTTP_PROXY ?? env.http_proxy ?? '');
  const nonce = decodeURIComponent(proxy.password);
  return {
    proxyPort: Number(proxy.port),
    proxyAuth: `Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${nonce}`).toString('base64')}`,
    nonce,
    logs,
    done,
    exited: () => exited,
    async stop() {
      abort.abort();
      return done;
    },
  };
}

/** The router's forwarder behind a plain loopback HTTP server (origin-form requests, no proxy). */
export interface RouterFront {
  readonly port: number;
  readonly forwarder: Forwarder;
  close(): Promise<void>;
}

export async function startRouterFront(route: () => BundleRoute): Promise<RouterFront> {
  const forwarder = createForwarder();
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    void forwarder.forward(req, res, route());
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    port,
    forwarder,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await forwarder.close();
    },
  };
}
