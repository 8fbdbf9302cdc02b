// The soak: a real gateway (SQLite, refresh engine on, token endpoint fake) and a real supervisor,
// mixed streaming and non-streaming traffic from keep-alive clients, and a real credential rotation
// (token endpoint round trip, old access token revoked upstream) every few seconds. Verdict: zero
// failed requests, no file-descriptor growth, memory slope reported (and bounded). Used by
// scripts/soak.mjs (default 10 minutes) and by soak.hostile.test.ts (30 s in CI).
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGateway } from '@openshell/server';
import { createFakeAnthropic, createFakeTokenEndpoint } from '@openshell/testing';
import { viaProxy } from './proxy-client.js';
import { launchSupervisor, messagesBody } from './system.js';

const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

export interface SoakOptions {
  readonly seconds: number;
  /** Seconds between rotations (default 3). */
  readonly rotateEverySeconds?: number;
  /** Concurrent clients (default 4). */
  readonly clients?: number;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
}

export interface SoakReport {
  readonly seconds: number;
  readonly requests: number;
  readonly streaming: number;
  readonly nonStreaming: number;
  readonly failed: number;
  readonly failures: readonly string[];
  readonly rotations: number;
  readonly rotationFailures: number;
  readonly retriedAfter401: number;
  readonly fds: { readonly start: number; readonly end: number; readonly max: number };
  readonly memory: { readonly startHeapMB: number; readonly endHeapMB: number; readonly slopeMBPerMinute: number; readonly startRssMB: number; readonly endRssMB: number };
  readonly pass: boolean;
  readonly verdict: string;
}

function openFds(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return -1;
  }
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Least-squares slope of (t minutes, heap MB). */
function slope(points: ReadonlyArray<readonly [number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const num = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const den = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

const MB = 1024 * 1024;

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? (() => undefined);
  const dir = await mkdtemp(join(tmpdir(), 'osh-soak-'));
  const tokens = await createFakeTokenEndpoint({ expiresIn: 3600 });
  const api = await createFakeAnthropic({ tokenEndpoint: tokens, recordLimit: 50, stream: { deltas: 4, intervalMs: 5 } });
  const login = tokens.issueLogin();
  const builtin = await readFile(join(REPO, 'providers', 'anthropic-oauth.yaml'), 'utf8');
  await mkdir(join(dir, 'profiles'), { recursive: true });
  await writeFile(join(dir, 'profiles', 'anthropic-oauth.yaml'), builtin.replace(/token_urls:\n(?:\s+- .*\n)+/, `token_urls:\n        - ${tokens.tokenUrl}\n`));
  const gw = await createGateway({
    dataDir: join(dir, 'data'),
    configDir: join(dir, 'config'),
    kek: randomBytes(32),
    profilesDir: join(dir, 'profiles'),
    listen: { host: '127.0.0.1', port: 0 },
    logLevel: 'warn',
    logStream: { write: () => true } as unknown as NodeJS.WritableStream,
  });
  const url = await gw.start();
  const adminToken = (await readFile(join(dir, 'config', 'gateways', 'local.token'), 'utf8')).trim();
  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  const must = async (p: Promise<{ status: number; json: Record<string, unknown> }>, status: number) => {
    const r = await p;
    if (r.status !== status) throw new Error(`soak set-up failed: ${r.status} ${JSON.stringify(r.json)}`);
    return r.json;
  };
  await must(
    admin('POST', '/v1/providers', {
      name: 'claude-plan',
      type: 'anthropic-oauth',
      credentials: { ANTHROPIC_OAUTH_TOKEN: login.accessToken },
      credentialExpiresAt: { ANTHROPIC_OAUTH_TOKEN: login.expiresAt },
      config: { ANTHROPIC_OAUTH_BASE_URL: `${api.url}/v1` },
    }),
    201,
  );
  await must(admin('PUT', '/v1/providers/claude-plan/refresh', { material: { refresh_token: login.refreshToken }, expiresAt: login.expiresAt }), 200);
  await must(admin('PUT', '/v1/inference/routes/inference.local', { provider: 'claude-plan', verify: false }), 200);
  const sandbox = await must(admin('POST', '/v1/sandboxes', { name: 'soak', providers: ['claude-plan'] }), 201);
  await mkdir(join(dir, 'ws'), { recursive: true });
  const supervisor = await launchSupervisor({ gatewayUrl: url, sandbox: 'soak', token: sandbox.token as string, workspace: join(dir, 'ws'), waitSeconds: 25, logLevel: 'warn' });

  const agent = new http.Agent({ keepAlive: true, maxSockets: options.clients ?? 4 });
  const failures: string[] = [];
  let failed = 0;
  let requests = 0;
  let streaming = 0;
  let nonStreaming = 0;
  let rotations = 0;
  let rotationFailures = 0;
  const deadline = Date.now() + options.seconds * 1000;
  const started = Date.now();

  // Warm-up, then baselines.
  for (let i = 0; i < 10; i++) await viaProxy(supervisor, { body: messagesBody('warm-up'), agent });
  gc();
  const fdStart = openFds();
  let fdMax = fdStart;
  const startHeap = process.memoryUsage().heapUsed / MB;
  const startRss = process.memoryUsage().rss / MB;
  const samples: Array<[number, number]> = [[0, startHeap]];

  const client = async (id: number) => {
    for (let i = 0; Date.now() < deadline; i++) {
      const stream = (i + id) % 2 === 0;
      const text = `soak ${id}-${i}`;
      const a = await viaProxy(supervisor, { body: messagesBody(text, stream ? { stream: true } : {}), agent, deadlineMs: 60_000 });
      requests++;
      if (stream) streaming++;
      else nonStreaming++;
      const bodyText = a.body.toString();
      const ok = a.status === 200 && a.complete && (stream ? bodyText.includes('message_stop') && streamedText(bodyText) === `You said: ${text}` : bodyText.includes(`You said: ${text}`));
      if (!ok) {
        failed++;
        if (failures.length < 20) failures.push(`${stream ? 'stream' : 'json'} ${a.status} ${a.error ?? ''} ${bodyText.slice(0, 160)}`);
      }
    }
  };
  const rotator = async () => {
    const every = (options.rotateEverySeconds ?? 3) * 1000;
    while (Date.now() + every < deadline) {
      await new Promise((r) => setTimeout(r, every));
      const r = await admin('POST', '/v1/providers/claude-plan/refresh/rotate', {});
      if (r.status === 200) rotations++;
      else rotationFailures++;
    }
  };
  const sampler = async () => {
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1_000));
      gc();
      const heap = process.memoryUsage().heapUsed / MB;
      samples.push([(Date.now() - started) / 60_000, heap]);
      fdMax = Math.max(fdMax, openFds());
      if (samples.length % 30 === 0) log(`[soak] ${Math.round((Date.now() - started) / 1000)} s: ${requests} requests, ${failed} failed, ${rotations} rotations, heap ${heap.toFixed(1)} MB, fds ${openFds()}`);
    }
  };
  await Promise.all([...Array.from({ length: options.clients ?? 4 }, (_, id) => client(id)), rotator(), sampler()]);

  // Let idle keep-alive sockets and pooled upstream connections settle before the last count.
  agent.destroy();
  await new Promise((r) => setTimeout(r, 500));
  gc();
  const fdEnd = openFds();
  const endHeap = process.memoryUsage().heapUsed / MB;
  const endRss = process.memoryUsage().rss / MB;
  const retried = api.requestCount - requests - 10;

  await supervisor.stop();
  await gw.close();
  await api.close();
  await tokens.close();
  await rm(dir, { recursive: true, force: true });

  const slopeMB = slope(samples);
  const fdGrowth = fdEnd - fdStart;
  const problems: string[] = [];
  if (failed > 0) problems.push(`${failed} failed requests`);
  if (rotations === 0) problems.push('no rotation happened');
  if (rotationFailures > 0) problems.push(`${rotationFailures} rotations failed`);
  if (fdStart >= 0 && fdGrowth > 8) problems.push(`descriptors grew by ${fdGrowth}`);
  // Generous: a leak of a few KB per request shows up as tens of MB per minute.
  if (options.seconds >= 60 && slopeMB > 20) problems.push(`heap grows ${slopeMB.toFixed(1)} MB/min`);
  return {
    seconds: options.seconds,
    requests,
    streaming,
    nonStreaming,
    failed,
    failures,
    rotations,
    rotationFailures,
    retriedAfter401: Math.max(0, retried),
    fds: { start: fdStart, end: fdEnd, max: fdMax },
    memory: { startHeapMB: round(startHeap), endHeapMB: round(endHeap), slopeMBPerMinute: round(slopeMB), startRssMB: round(startRss), endRssMB: round(endRss) },
    pass: problems.length === 0,
    verdict: problems.length === 0 ? 'PASS' : `FAIL: ${problems.join('; ')}`,
  };
}

/** The text of an Anthropic SSE answer: its text deltas joined. */
function streamedText(sse: string): string {
  let out = '';
  for (const line of sse.split('\n')) {
    if (!line.startsWith('data: ') || !line.includes('text_delta')) continue;
    const event = JSON.parse(line.slice(6)) as { delta?: { text?: string } };
    out += event.delta?.text ?? '';
  }
  return out;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
