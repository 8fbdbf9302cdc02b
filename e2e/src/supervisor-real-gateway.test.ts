// The supervisor against the REAL gateway (createGateway, SQLite) and a fake Anthropic upstream:
// admin API sets up provider, route and sandbox; the sandbox token goes to runSupervisor; real
// children (curl, the Anthropic SDK) reach inference.local; a credential update at the gateway
// is pushed by the long-poll and used by the very next request. (Owned by the supervisor
// engineer; the fake-gateway variants live in packages/supervisor.)
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Secret } from '@openshell/core';
import { createGateway, type Gateway } from '@openshell/server';
import { runSupervisor, type SupervisorOptions } from '@openshell/supervisor';
import { canaryScan, createFakeAnthropic, type FakeAnthropic, headerValues } from '@openshell/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

let dir: string;
let gw: Gateway;
let api: FakeAnthropic;
let adminToken: string;
let sandboxToken: string;
const gatewayLogs: string[] = [];
const supervisorLogs: string[] = [];
const upstreamToken = `sk-ant-oat01-e2e-${randomBytes(12).toString('hex')}`;
const rotatedToken = `sk-ant-oat01-e2e-rotated-${randomBytes(12).toString('hex')}`;

async function admin(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

function supervise(command: readonly string[], extra: Partial<SupervisorOptions> = {}) {
  return runSupervisor({
    gatewayUrl: gw.url as string,
    sandbox: 'e2e',
    token: new Secret(sandboxToken),
    command,
    workspace: join(dir, 'ws'),
    isolation: 'auto',
    stdio: 'pipe',
    forwardSignals: false,
    logLevel: 'debug',
    logStream: { write: (s: string) => supervisorLogs.push(s) },
    waitSeconds: 5,
    // The child scripts import the SDK from this checkout, which bwrap hides when it sits under /tmp.
    readOnly: [REPO_ROOT],
    ...extra,
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'osh-e2e-sup-'));
  api = await createFakeAnthropic({ accessTokens: [upstreamToken] });
  gw = await createGateway({
    dataDir: join(dir, 'data'),
    configDir: join(dir, 'config'),
    kek: randomBytes(32),
    listen: { host: '127.0.0.1', port: 0 },
    refresh: false,
    logLevel: 'debug',
    logStream: { write: (s: string) => gatewayLogs.push(String(s)) } as unknown as NodeJS.WritableStream,
  });
  await gw.start();
  adminToken = (await readFile(join(dir, 'config', 'gateways', 'local.token'), 'utf8')).trim();
  const provider = await admin('POST', '/v1/providers', {
    name: 'claude-plan',
    type: 'claude-plan',
    credentials: { ANTHROPIC_OAUTH_TOKEN: upstreamToken },
    config: { ANTHROPIC_OAUTH_BASE_URL: `${api.url}/v1` },
  });
  expect(provider.status).toBe(201);
  expect((await admin('PUT', '/v1/inference/routes/inference.local', { provider: 'claude-plan', verify: false })).status).toBe(200);
  const sandbox = await admin('POST', '/v1/sandboxes', { name: 'e2e', providers: ['claude-plan'] });
  expect(sandbox.status).toBe(201);
  sandboxToken = sandbox.json.token as string;
  await mkdir(join(dir, 'ws', 'tmp'), { recursive: true });
});

afterAll(async () => {
  await gw?.close();
  await api?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('supervisor with the real gateway', () => {
  it('curl through https://inference.local: real token upstream, one merged anthropic-beta, no x-api-key, same bytes', async () => {
    const body = '{"model":"claude-haiku-4-5","max_tokens":8,  "messages":[{"role":"user","content":"e2e curl"}]}';
    await writeFile(join(dir, 'ws', 'tmp', 'body.json'), body);
    api.reset();
    const res = await supervise([
      'curl', '-sS', '--fail-with-body', 'https://inference.local/v1/messages',
      '-H', 'content-type: application/json', '-H', 'anthropic-version: 2023-06-01',
      '-H', 'anthropic-beta: claude-code-20250219', '-H', 'x-api-key: unused',
      '--data-binary', `@${join(dir, 'ws', 'tmp', 'body.json')}`,
    ]);
    expect(res.exitCode).toBe(0);
    expect(JSON.parse(res.stdout ?? '')).toMatchObject({ content: [{ text: 'You said: e2e curl' }] });
    const up = api.requests[0];
    expect(up).toBeDefined();
    if (up === undefined) return;
    expect(headerValues(up, 'authorization')).toEqual([`Bearer ${upstreamToken}`]);
    expect(headerValues(up, 'x-api-key')).toEqual([]);
    expect(headerValues(up, 'anthropic-beta')).toEqual(['claude-code-20250219,oauth-2025-04-20']);
    expect(up.body.toString('utf8')).toBe(body);
  });

  it('the Anthropic SDK (no proxy support) works, streaming and not', async () => {
    api.reset();
    const client = new URL('../../packages/supervisor/src/testing-fixtures/sdk-client.mjs', import.meta.url).pathname;
    const res = await supervise([process.execPath, client, 'e2e sdk']);
    expect(res.exitCode).toBe(0);
    const out = JSON.parse(res.stdout ?? '') as { nonStreaming: { text: string; sent: string }; streaming: { text: string; sent: string } };
    expect(out.nonStreaming.text).toBe('You said: e2e sdk');
    expect(out.streaming.text).toBe('You said: e2e sdk');
    expect(api.requests.map((r) => r.body.toString('utf8'))).toEqual([out.nonStreaming.sent, out.streaming.sent]);
  });

  it('a credential updated at the gateway is pushed by the long-poll and used by the very next request', async () => {
    api.reset();
    api.ledger.allow(rotatedToken);
    const tmp = join(dir, 'ws', 'tmp');
    const script = new URL('../../packages/supervisor/src/testing-fixtures/two-calls.mjs', import.meta.url).pathname;
    supervisorLogs.length = 0;
    const running = supervise([process.execPath, script]);
    for (let i = 0; i < 1000 && !existsSync(join(tmp, 'first-done')); i++) await new Promise((r) => setTimeout(r, 10));
    const current = await admin('GET', '/v1/providers/claude-plan');
    const patched = await admin('PATCH', '/v1/providers/claude-plan', {
      resourceVersion: current.json.resourceVersion,
      credentials: { ANTHROPIC_OAUTH_TOKEN: rotatedToken },
    });
    expect(patched.status).toBe(200);
    for (let i = 0; i < 1000 && !supervisorLogs.some((l) => l.includes('route bundle updated')); i++) await new Promise((r) => setTimeout(r, 10));
    await writeFile(join(tmp, 'go'), '');
    const res = await running;
    expect(res.exitCode).toBe(0);
    expect(api.requests.map((r) => headerValues(r, 'authorization'))).toEqual([[`Bearer ${upstreamToken}`], [`Bearer ${rotatedToken}`]]);
  });

  it('no token of any kind reaches the child, the workspace or any log', async () => {
    const envDump = new URL('../../packages/supervisor/src/testing-fixtures/env-dump.mjs', import.meta.url).pathname;
    let childEnv: Record<string, string> = {};
    const res = await supervise([process.execPath, envDump], { onReady: (info) => (childEnv = { ...info.childEnv }) });
    expect(res.exitCode).toBe(0);
    const hits = await canaryScan(
      [
        { label: 'child env', content: JSON.stringify(childEnv) },
        { label: 'child output', content: `${res.stdout}${res.stderr}` },
        { label: 'supervisor logs', content: supervisorLogs.join('') },
        { label: 'gateway logs', content: gatewayLogs.join('') },
        { path: join(dir, 'ws') },
      ],
      [sandboxToken, upstreamToken, rotatedToken, adminToken],
    );
    expect(hits).toEqual([]);
  });
});
