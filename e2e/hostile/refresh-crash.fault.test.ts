// The gateway PROCESS is SIGKILLed at each step of the refresh write path (before the token request,
// after the token response, after the commit; injected by the engine's test-only hook) while a real
// supervisor serves traffic, then restarted on the same port and data. Checks: no refresh token is
// lost (the stored one is still valid at the token endpoint, except in the one window no design
// closes, which must be detected as reauth_required and never retried); once a rotation is committed
// and the supervisor has the new bundle, no request goes out with the revoked token; traffic that
// does not depend on the crashed step keeps being served; the supervisor survives and resumes sync.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadKek, openStore } from '@openshell/server';
import { canaryScan, createFakeAnthropic, createFakeTokenEndpoint, type FakeAnthropic, type FakeLogin, type FakeTokenEndpoint } from '@openshell/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lines } from './attacks.js';
import { type ProxyAnswer, viaProxy } from './proxy-client.js';
import { launchSupervisor, messagesBody, type RunningSupervisor } from './system.js';

const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const SERVER_DIR = join(REPO, 'packages', 'server');
const tally = { crashes: 0, requests: 0 };

let dir: string;
let tokens: FakeTokenEndpoint;
let api: FakeAnthropic;
let login: FakeLogin;
let port: number;
let gateway: { child: ChildProcess; output: string[]; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } | undefined;
let supervisor: RunningSupervisor | undefined;
let adminToken: string;

async function freePort(): Promise<number> {
  const s = net.createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const p = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

/** Starts `openshell-gateway` (from source) as a real process; resolves once it listens. */
async function startGatewayProcess(crashAt?: string): Promise<void> {
  const output: string[] = [];
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', join(SERVER_DIR, 'src', 'bin.ts'), '--listen', `127.0.0.1:${port}`, '--data-dir', join(dir, 'data'), '--profiles-dir', join(dir, 'profiles'), '--log-level', 'info'],
    {
      cwd: SERVER_DIR,
      env: { PATH: process.env.PATH ?? '', HOME: join(dir, 'home'), XDG_CONFIG_HOME: join(dir, 'config'), XDG_DATA_HOME: join(dir, 'xdg-data'), ...(crashAt !== undefined ? { OPENSHELL_TEST_CRASH_AT: crashAt } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout?.on('data', (c: Buffer) => output.push(c.toString()));
  child.stderr?.on('data', (c: Buffer) => output.push(c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  gateway = { child, output, exited };
  const deadline = Date.now() + 60_000;
  while (!output.join('').includes('openshell-gateway listening on')) {
    if (Date.now() > deadline) throw new Error(`gateway did not start:\n${output.join('')}`);
    if (child.exitCode !== null) throw new Error(`gateway exited at start:\n${output.join('')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function admin(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** The refresh token and access token the store holds (read with the gateway stopped). */
async function stored(): Promise<{ access: string | undefined; refresh: string | undefined }> {
  const { kek } = loadKek({ dataDir: join(dir, 'data'), env: {} });
  const store = await openStore({ dataDir: join(dir, 'data'), kek });
  try {
    const provider = await store.getProvider('claude-plan');
    // The material is only handed out with a lease: take one briefly (the gateway is stopped), then give it back.
    const begun = await store.beginRefresh('claude-plan', 'ANTHROPIC_OAUTH_TOKEN', 'hostile-reader', 5_000);
    let refresh: string | undefined;
    if (begun.outcome === 'acquired') {
      refresh = begun.material.refresh_token;
      await store.releaseRefresh('claude-plan', 'ANTHROPIC_OAUTH_TOKEN', 'hostile-reader');
    }
    return { access: provider?.credentials.ANTHROPIC_OAUTH_TOKEN, refresh };
  } finally {
    await store.close();
  }
}

/** Background traffic through the supervisor until stopped. */
function traffic(): { stop(): Promise<Array<ProxyAnswer & { at: number; bearer: string | undefined }>> } {
  let stopped = false;
  const answers: Array<ProxyAnswer & { at: number; bearer: string | undefined }> = [];
  const run = (async () => {
    for (let i = 0; i < 3_000 && !stopped && supervisor !== undefined; i++) {
      const at = Date.now();
      const before = api.requestCount;
      const a = await viaProxy(supervisor!, { body: messagesBody(`crash ${i}`, i % 2 ? { stream: true } : {}), deadlineMs: 20_000 });
      const upstream = api.requests.slice(before);
      answers.push({ ...a, at, bearer: upstream.length > 0 ? lines(upstream[upstream.length - 1]!, 'authorization')[0] : undefined });
      tally.requests++;
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await run;
      return answers;
    },
  };
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'osh-hostile-crash-'));
  tokens = await createFakeTokenEndpoint({ expiresIn: 3600 });
  api = await createFakeAnthropic({ tokenEndpoint: tokens });
  login = tokens.issueLogin();
  port = await freePort();
  const builtin = await readFile(join(REPO, 'providers', 'anthropic-oauth.yaml'), 'utf8');
  await mkdir(join(dir, 'profiles'), { recursive: true });
  await writeFile(join(dir, 'profiles', 'anthropic-oauth.yaml'), builtin.replace(/token_urls:\n(?:\s+- .*\n)+/, `token_urls:\n        - ${tokens.tokenUrl}\n`));
  await mkdir(join(dir, 'ws'), { recursive: true });
});

afterEach(async () => {
  const supervisorLogs = supervisor?.logs ?? [];
  await supervisor?.stop().catch(() => undefined);
  supervisor = undefined;
  if (gateway !== undefined && gateway.child.exitCode === null && gateway.child.signalCode === null) {
    gateway.child.kill('SIGTERM');
    await gateway.exited;
  }
  // No token of any generation in any gateway output or supervisor log.
  const secrets = [login.accessToken, login.refreshToken!, ...tokens.calls.map((c) => refreshTokenSent(c.body.toString())).filter((t): t is string => t !== undefined)];
  expect(await canaryScan([...(gateway?.output ?? []), ...supervisorLogs], secrets)).toEqual([]);
  gateway = undefined;
  await api.close();
  await tokens.close();
  await rm(dir, { recursive: true, force: true });
});

/** The refresh token a token request carried (JSON or form encoded). */
function refreshTokenSent(body: string): string | undefined {
  try {
    return (JSON.parse(body) as Record<string, string>).refresh_token;
  } catch {
    return new URLSearchParams(body).get('refresh_token') ?? undefined;
  }
}

/** Gateway + provider with refresh + route + sandbox + a supervisor, the gateway armed to crash at `step` (if given). */
async function setUp(step?: string): Promise<void> {
  await startGatewayProcess(step);
  adminToken = (await readFile(join(dir, 'config', 'openshell', 'gateways', 'local.token'), 'utf8')).trim();
  expect(
    (
      await admin('POST', '/v1/providers', {
        name: 'claude-plan',
        type: 'anthropic-oauth',
        credentials: { ANTHROPIC_OAUTH_TOKEN: login.accessToken },
        credentialExpiresAt: { ANTHROPIC_OAUTH_TOKEN: login.expiresAt },
        config: { ANTHROPIC_OAUTH_BASE_URL: `${api.url}/v1` },
      })
    ).status,
  ).toBe(201);
  expect((await admin('PUT', '/v1/providers/claude-plan/refresh', { material: { refresh_token: login.refreshToken }, expiresAt: login.expiresAt })).status).toBe(200);
  expect((await admin('PUT', '/v1/inference/routes/inference.local', { provider: 'claude-plan', verify: false })).status).toBe(200);
  const sandbox = await admin('POST', '/v1/sandboxes', { name: 'crash', providers: ['claude-plan'] });
  expect(sandbox.status).toBe(201);
  supervisor = await launchSupervisor({ gatewayUrl: `http://127.0.0.1:${port}`, sandbox: 'crash', token: sandbox.json.token as string, workspace: join(dir, 'ws'), waitSeconds: 2 });
}

/** Asks for a rotation; the gateway dies at the armed step. */
async function rotateAndCrash(): Promise<void> {
  const answer = await admin('POST', '/v1/providers/claude-plan/refresh/rotate', {}).catch((e: unknown) => e);
  expect(answer, 'the rotate call should have lost its gateway').toBeInstanceOf(Error);
  const exit = await gateway!.exited;
  expect(exit.signal).toBe('SIGKILL');
  tally.crashes++;
}

async function waitForBearer(expected: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const before = api.requestCount;
    const a = await viaProxy(supervisor!, { body: messagesBody('after restart') });
    const bearer = api.requests[before] === undefined ? undefined : lines(api.requests[before]!, 'authorization')[0];
    if (a.status === 200 && bearer === `Bearer ${expected}`) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the supervisor never used the committed token');
}

describe('gateway SIGKILL on the refresh write path, under traffic', { timeout: 180_000 }, () => {
  it('after the commit: nothing lost, the supervisor moves to the new token and never sends the revoked one again', async () => {
    await setUp('after-commit');
    const load = traffic();
    await new Promise((r) => setTimeout(r, 300));
    await rotateAndCrash();
    expect(tokens.rotations).toBe(1);
    const after = await stored();
    expect(after.access).not.toBe(login.accessToken);
    expect(after.refresh).not.toBe(login.refreshToken);
    expect(tokens.isRefreshTokenValid(after.refresh!), 'the committed refresh token is not the live one').toBe(true);
    await startGatewayProcess();
    await waitForBearer(after.access!);
    const switchedAt = Date.now();
    await new Promise((r) => setTimeout(r, 500));
    const answers = await load.stop();
    const afterSwitch = answers.filter((a) => a.at > switchedAt);
    expect(afterSwitch.length).toBeGreaterThan(0);
    expect(afterSwitch.filter((a) => a.bearer === `Bearer ${login.accessToken}`), 'the revoked token was sent after the switch').toEqual([]);
    expect(afterSwitch.filter((a) => a.status !== 200).map((a) => a.status)).toEqual([]);
    // The lineage continues: another rotation after the restart works.
    const again = await admin('POST', '/v1/providers/claude-plan/refresh/rotate', {});
    expect(again.status, JSON.stringify(again.json)).toBe(200);
    expect(tokens.rotations).toBe(2);
    expect(supervisor?.exited()).toBe(false);
  });

  it('before the token request: the refresh token is not spent, traffic never stops, the marker is reported', async () => {
    await setUp('before-token-request');
    const load = traffic();
    await new Promise((r) => setTimeout(r, 300));
    await rotateAndCrash();
    expect(tokens.calls).toHaveLength(0);
    expect((await stored()).access).toBe(login.accessToken);
    expect(tokens.isRefreshTokenValid(login.refreshToken!), 'the refresh token was lost').toBe(true);
    await startGatewayProcess();
    await new Promise((r) => setTimeout(r, 1_000));
    const answers = await load.stop();
    // The old access token was never revoked: every request was served, gateway down or not.
    expect(answers.filter((a) => a.status !== 200).map((a) => `${a.status} ${a.body.toString().slice(0, 100)}`)).toEqual([]);
    const status = await admin('GET', '/v1/providers/claude-plan/refresh');
    expect(JSON.stringify(status.json)).toMatch(/reauth_required|configured|refreshed/);
    expect(tokens.calls).toHaveLength(0);
    expect(supervisor?.exited()).toBe(false);
  });

  it('after the token response, before the commit: detected at restart as reauth_required with the fix, never retried, clients told how to fix it', async () => {
    await setUp('after-token-response');
    const load = traffic();
    await new Promise((r) => setTimeout(r, 300));
    await rotateAndCrash();
    expect(tokens.rotations).toBe(1);
    // The one window no design closes: the old refresh token is spent, the new one never committed.
    expect(tokens.isRefreshTokenValid(login.refreshToken!)).toBe(false);
    expect((await stored()).access).toBe(login.accessToken);
    await startGatewayProcess();
    await new Promise((r) => setTimeout(r, 1_500));
    const answers = await load.stop();
    const status = await admin('GET', '/v1/providers/claude-plan/refresh');
    expect(JSON.stringify(status.json)).toContain('reauth_required');
    expect(JSON.stringify(status.json)).toContain('openshell provider update claude-plan');
    // Never retried: one token request in all.
    expect(tokens.calls).toHaveLength(1);
    // Requests after the restart fail with a clear message, never hang.
    const late = await viaProxy(supervisor!, { body: messagesBody('late'), deadlineMs: 20_000 });
    expect(late.status).toBe(401);
    expect(late.body.toString()).toMatch(/re-?auth|openshell provider update/i);
    expect(answers.every((a) => a.error !== 'client deadline')).toBe(true);
    expect(supervisor?.exited()).toBe(false);
  });
});

describe('token endpoint failure classes under traffic', { timeout: 180_000 }, () => {
  it('429, 5xx, a WAF page, malformed 200s, a hang and a reset: traffic keeps being served, the refresh token is never spent, then a rotation succeeds', async () => {
    await setUp();
    const load = traffic();
    const behaviours = [
      { kind: 'rate-limit', retryAfterSeconds: 1 },
      { kind: 'server-error', status: 503 },
      { kind: 'server-error', status: 500 },
      { kind: 'cloudflare-challenge' },
      { kind: 'destroy' },
      { kind: 'raw', status: 200, body: '{"access_token":' },
      { kind: 'raw', status: 200, body: '{"token_type":"bearer"}' },
      { kind: 'hang' },
    ] as const;
    for (const b of behaviours) {
      tokens.force(b as Parameters<FakeTokenEndpoint['force']>[0], { times: 1 });
      tally.crashes++;
      const r = await admin('POST', '/v1/providers/claude-plan/refresh/rotate', {});
      // The forced failure may be met by this call or by the engine's own retry; either way it is transient.
      if (r.status !== 200) {
        expect(r.status, `${b.kind}: ${JSON.stringify(r.json)}`).toBe(502);
        expect((r.json.error as { code: string }).code).toBe('refresh_failed');
      }
      const state = await admin('GET', '/v1/providers/claude-plan/refresh');
      expect(JSON.stringify(state.json), `${b.kind} made the credential terminal`).not.toContain('reauth_required');
      await new Promise((r) => setTimeout(r, 1_200));
    }
    const answers = await load.stop();
    expect(answers.filter((a) => a.status !== 200).map((a) => a.status), 'a request failed while refreshing failed').toEqual([]);
    // Every forced failure was met by a token request (none spends a token); then the lineage still works.
    const statuses = tokens.calls.map((c) => c.status);
    for (const st of [429, 503, 500, 403]) expect(statuses).toContain(st);
    const rotationsBefore = tokens.rotations;
    const ok = await admin('POST', '/v1/providers/claude-plan/refresh/rotate', {});
    expect(ok.status, `no refresh token lost: ${JSON.stringify(ok.json)}`).toBe(200);
    expect(tokens.rotations).toBe(rotationsBefore + 1);
    expect(gateway?.child.exitCode).toBeNull();
  });
});

describe('drift and terminal failure classes under traffic', { timeout: 180_000 }, () => {
  it('"Invalid request format" and invalid_scope are absorbed by one retry each, without spending the token', async () => {
    await setUp();
    tokens.configure({ encodings: ['json', 'form'] });
    const load = traffic();
    tokens.force({ kind: 'invalid-request-format' }, { times: 1 });
    tally.crashes++;
    const drift = await admin('POST', '/v1/providers/claude-plan/refresh/rotate', {});
    expect(drift.status, JSON.stringify(drift.json)).toBe(200);
    expect(tokens.rotations).toBe(1);
    expect(tokens.calls.map((c) => c.status)).toEqual([400, 200]);
    // invalid_scope: retried once without scope (the token is not spent by a refusal).
    tokens.force({ kind: 'raw', status: 400, body: '{"error":"invalid_scope","error_description":"scope not allowed"}' }, { times: 1 });
    tally.crashes++;
    const scoped = await admin('POST', '/v1/providers/claude-plan/refresh/rotate', {});
    expect(scoped.status, JSON.stringify(scoped.json)).toBe(200);
    expect(tokens.rotations).toBe(2);
    await new Promise((r) => setTimeout(r, 500));
    const answers = await load.stop();
    expect(answers.filter((a) => a.status !== 200).map((a) => a.status), 'traffic failed during a drift retry').toEqual([]);
  });

  it('a refresh token spent elsewhere (invalid_grant): reauth_required with the fix, not retried, the current access token keeps serving', async () => {
    await setUp();
    const load = traffic();
    tokens.revokeRefreshToken(login.refreshToken!);
    tally.crashes++;
    const r = await admin('POST', '/v1/providers/claude-plan/refresh/rotate', {});
    expect(r.status, JSON.stringify(r.json)).toBe(409);
    expect((r.json.error as { code: string }).code).toBe('reauth_required');
    expect(JSON.stringify(r.json)).toContain('openshell provider update claude-plan');
    const again = await admin('POST', '/v1/providers/claude-plan/refresh/rotate', {});
    expect(again.status).toBe(409);
    expect(tokens.calls).toHaveLength(1);
    await new Promise((r2) => setTimeout(r2, 500));
    const answers = await load.stop();
    expect(answers.filter((a) => a.status !== 200).map((a) => a.status), 'the still-valid access token stopped serving').toEqual([]);
    expect(supervisor?.exited()).toBe(false);
  });
});

afterEach(() => {
  console.log(`[hostile] refresh crashes under traffic so far: ${tally.crashes}, requests: ${tally.requests}`);
});
