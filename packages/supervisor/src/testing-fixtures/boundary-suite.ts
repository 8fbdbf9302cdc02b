// The end-to-end behaviour every isolation mode must show, run by supervisor.test.ts (none) and
// supervisor-bwrap.test.ts (bwrap): real children (curl, the Anthropic SDK, Node fetch) reach
// inference.local, the upstream sees exactly what the boundary should send, egress is enforced,
// and rotations apply to the very next request.

import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canaryScan, headerValues, type RecordedRequest, waitUntil } from '@openshell/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { IsolationMode } from '../isolation.js';
import { anthropicOauthRoute, fingerprintOf } from './fake-gateway.js';
import { ENV_DUMP, type Harness, SDK_CLIENT, startHarness } from './harness.js';

const TWO_CALLS = fileURLToPath(new URL('./two-calls.mjs', import.meta.url));

function authOf(r: RecordedRequest | undefined): string[] {
  return r === undefined ? [] : headerValues(r, 'authorization');
}

export function boundarySuite(isolation: Exclude<IsolationMode, 'auto'>): { harness: () => Harness } {
  let h: Harness;
  let allowed: http.Server;
  let allowedPort = 0;

  beforeAll(async () => {
    // An allow-listed destination on 127.0.0.3 (loopback, but not in NO_PROXY, so it goes through the proxy).
    allowed = http.createServer((_req, res) => res.end('allowed-destination-ok'));
    allowed.listen(0, '127.0.0.3');
    await once(allowed, 'listening');
    allowedPort = (allowed.address() as AddressInfo).port;
    h = await startHarness({ isolation, egress: [{ host: '127.0.0.3', port: allowedPort }] });
    await mkdir(join(h.workspace, 'tmp'), { recursive: true });
  });
  afterAll(async () => {
    allowed?.close();
    await h?.close();
  });

  it('curl reaches https://inference.local via the proxy variables, TLS verified against the sandbox CA', async () => {
    const body = '{"model":"claude-haiku-4-5",  "max_tokens":16,"messages":[{"role":"user","content":"hi \\u00e9 curl"}]}';
    const bodyFile = join(h.workspace, 'tmp', 'body.json');
    await writeFile(bodyFile, body);
    h.api.reset();
    const res = await h.run([
      'curl', '-sS', '--fail-with-body', 'https://inference.local/v1/messages?beta=true',
      '-H', 'content-type: application/json',
      '-H', 'anthropic-version: 2023-06-01',
      '-H', 'anthropic-beta: claude-code-20250219,interleaved-thinking-2025-05-14',
      '-H', 'x-api-key: unused',
      '-H', 'Authorization: Bearer client-placeholder',
      '--data-binary', `@${bodyFile}`,
    ]);
    expect(res.stderr).toBe('');
    expect(res.exitCode).toBe(0);
    expect(res.isolation).toBe(isolation);
    expect(JSON.parse(res.stdout ?? '')).toMatchObject({ type: 'message', content: [{ type: 'text', text: 'You said: hi é curl' }] });
    expect(h.api.requests).toHaveLength(1);
    const up = h.api.requests[0] as RecordedRequest;
    expect(up.url).toBe('/v1/messages?beta=true');
    expect(authOf(up)).toEqual([`Bearer ${h.upstreamToken}`]);
    expect(headerValues(up, 'x-api-key')).toEqual([]);
    expect(headerValues(up, 'anthropic-beta')).toEqual(['claude-code-20250219,interleaved-thinking-2025-05-14,oauth-2025-04-20']);
    expect(up.bodySha256).toBe(createHash('sha256').update(body).digest('hex'));
  });

  it('curl reaches http://inference.local with absolute-URI proxy requests', async () => {
    h.api.reset();
    const res = await h.run(['curl', '-sS', '--fail-with-body', 'http://inference.local/v1/models', '-H', 'anthropic-version: 2023-06-01']);
    expect(res.exitCode).toBe(0);
    expect(JSON.parse(res.stdout ?? '')).toMatchObject({ data: expect.arrayContaining([expect.objectContaining({ id: 'claude-haiku-4-5' })]) });
    expect(authOf(h.api.requests[0])).toEqual([`Bearer ${h.upstreamToken}`]);
  });

  it(`the official Anthropic SDK (no proxy support) works ${isolation === 'bwrap' ? 'through the transparent path' : 'through the fetch preload'}, streaming and not`, async () => {
    h.api.reset();
    const res = await h.run([process.execPath, SDK_CLIENT, 'hello sdk']);
    expect(res.exitCode).toBe(0);
    if (isolation === 'bwrap') expect(res.ready?.childEnv.NODE_OPTIONS).toBeUndefined();
    else expect(res.ready?.childEnv.NODE_OPTIONS).toMatch(/^--import=file:.*node-fetch-proxy\.mjs$/);
    const out = JSON.parse(res.stdout ?? '') as {
      baseURL: string;
      error?: unknown;
      nonStreaming: { text: string; sent: string };
      streaming: { text: string; stop: string; sent: string };
    };
    expect(out.error).toBeUndefined();
    expect(out.baseURL).toBe('https://inference.local');
    expect(out.nonStreaming.text).toBe('You said: hello sdk');
    expect(out.streaming.text).toBe('You said: hello sdk');
    expect(out.streaming.stop).toBe('end_turn');
    expect(h.api.requests).toHaveLength(2);
    const [plain, streamed] = h.api.requests as [RecordedRequest, RecordedRequest];
    for (const up of [plain, streamed]) {
      expect(authOf(up)).toEqual([`Bearer ${h.upstreamToken}`]);
      expect(headerValues(up, 'x-api-key')).toEqual([]);
      expect(headerValues(up, 'anthropic-beta')).toEqual(['fine-grained-tool-streaming-2025-05-14,oauth-2025-04-20']);
    }
    expect(plain.body.toString('utf8')).toBe(out.nonStreaming.sent);
    expect(streamed.body.toString('utf8')).toBe(out.streaming.sent);
  });

  it('the child environment is scrubbed and carries the route client settings, and no secret reaches the child, its files or the logs', async () => {
    h.logs.length = 0;
    const res = await h.run([process.execPath, ENV_DUMP], { env: { PATH: process.env.PATH ?? '', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', TERM: 'dumb', TZ: 'UTC', OPENSHELL_ADMIN_TOKEN: 'admin-token-canary-xyz', ANTHROPIC_API_KEY: 'sk-host-key-canary', HOME: process.env.HOME ?? '/root' } });
    expect(res.exitCode).toBe(0);
    const seen = JSON.parse(res.stdout ?? '') as { env: Record<string, string> };
    const env = seen.env;
    expect(env.HOME).toBe(res.ready?.home);
    expect(env.TMPDIR).toBe(res.ready?.tmp);
    expect(env.LC_ALL).toBe('C.UTF-8');
    expect(env.TZ).toBe('UTC');
    expect(env.ANTHROPIC_BASE_URL).toBe('https://inference.local');
    expect(env.CLAUDE_CODE_OAUTH_TOKEN).toBe('sk-ant-oat01-openshell-placeholder-not-a-credential');
    expect(env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC).toBe('1');
    expect(env.GITHUB_TOKEN).toBe('ghp_injectable_value');
    expect(env.OPENSHELL_ADMIN_TOKEN).toBeUndefined();
    expect(env.ANTHROPIC_API_KEY).toBeUndefined();
    for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy']) expect(env[k], k).toMatch(/^http:\/\/.*127\.0\.0\.1:\d+$/);
    expect(env.NO_PROXY).toBe('127.0.0.1,localhost,::1');
    for (const k of ['SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE']) expect(env[k], k).toMatch(/ca-bundle\.pem$/);
    expect(env.NODE_EXTRA_CA_CERTS).toMatch(/sandbox-ca\.pem$/);
    const hits = await canaryScan(
      [
        { label: 'child env (as seen)', content: JSON.stringify(env) },
        { label: 'child env (as given)', content: JSON.stringify(res.ready?.childEnv) },
        { label: 'child stdout', content: res.stdout ?? '' },
        { label: 'child stderr', content: res.stderr ?? '' },
        { label: 'supervisor logs', content: h.logs.join('') },
        { path: join(h.workspace, 'home') },
        { path: join(h.workspace, 'tmp') },
        { path: join(h.workspace, 'runs') },
      ],
      [h.sandboxToken, h.upstreamToken, 'admin-token-canary-xyz', 'sk-host-key-canary'],
    );
    expect(hits).toEqual([]);
    // Only certificates were written for the child: no private key anywhere in the workspace.
    expect(await canaryScan([{ path: h.workspace }], ['PRIVATE KEY'])).toEqual([]);
  });

  // Skipped only where the machine has no python3.
  it.skipIf(!existsSync('/usr/bin/python3'))('Python urllib reaches https://inference.local via the proxy variables and SSL_CERT_FILE', async () => {
    h.api.reset();
    const script = [
      'import json, urllib.request',
      "req = urllib.request.Request('https://inference.local/v1/messages', method='POST', data=json.dumps({'model': 'claude-haiku-4-5', 'max_tokens': 8, 'messages': [{'role': 'user', 'content': 'py'}]}).encode(), headers={'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': 'unused'})",
      'print(json.load(urllib.request.urlopen(req, timeout=20))["content"][0]["text"])',
    ].join('\n');
    const res = await h.run(['/usr/bin/python3', '-c', script]);
    expect(res.stderr).toBe('');
    expect(res.stdout?.trim()).toBe('You said: py');
    expect(authOf(h.api.requests[0])).toEqual([`Bearer ${h.upstreamToken}`]);
  });

  it('egress: CONNECT to an allow-listed host:port is tunnelled; 127.0.0.2 and *.invalid get 403', async () => {
    h.logs.length = 0;
    const res = await h.run([
      'sh', '-c',
      `curl -sS -p http://127.0.0.3:${allowedPort}/ ; echo; ` +
        `curl -sS https://127.0.0.2:${allowedPort}/ 2>&1 | tr '\\n' ' '; echo; ` +
        "curl -sS https://upstream.invalid/ 2>&1 | tr '\\n' ' '; echo",
    ]);
    const lines = (res.stdout ?? '').split('\n');
    expect(lines[0]).toBe('allowed-destination-ok');
    expect(lines[1]).toMatch(/403/);
    expect(lines[2]).toMatch(/403/);
    const logs = h.logs.join('');
    expect(logs).toContain(`egress tunnel opened destination=127.0.0.3:${allowedPort}`);
    expect(logs).toMatch(new RegExp(`egress denied destination=127\\.0\\.0\\.2:${allowedPort}`));
    expect(logs).toMatch(/egress denied destination=upstream\.invalid:443/);
  });

  it('rotation: a token rotated at the gateway is used by the very next request', async () => {
    h.api.reset();
    h.logs.length = 0;
    const tmp = join(h.workspace, 'tmp');
    for (const f of ['first-done', 'go']) await import('node:fs/promises').then((fs) => fs.rm(join(tmp, f), { force: true }));
    const rotated = `${h.upstreamToken}-rotated`;
    const running = h.run([process.execPath, TWO_CALLS]);
    await waitUntil(() => existsSync(join(tmp, 'first-done')), 'the first call');
    h.api.ledger.allow(rotated);
    h.gateway.setBundle({ routes: [anthropicOauthRoute({ baseUrl: `${h.api.url}/v1`, token: rotated })], egress: h.gateway.bundle().egress });
    await waitUntil(() => h.logs.some((l) => l.includes('route bundle updated')), 'the bundle update');
    await writeFile(join(tmp, 'go'), '');
    const res = await running;
    expect(res.exitCode).toBe(0);
    const [first, second] = JSON.parse(res.stdout ?? '') as [{ status: number }, { status: number }];
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(h.api.requests.map(authOf)).toEqual([[`Bearer ${h.upstreamToken}`], [`Bearer ${rotated}`]]);
    // Put the original route back for later tests.
    h.gateway.setBundle({ routes: [anthropicOauthRoute({ baseUrl: `${h.api.url}/v1`, token: h.upstreamToken })], egress: h.gateway.bundle().egress });
  });

  it('an upstream 401 leads to one credential-rejected report, one rotation and one retry', async () => {
    const stale = `${h.upstreamToken}-stale`;
    const fresh = `${h.upstreamToken}-fresh`;
    h.gateway.setBundle({ routes: [anthropicOauthRoute({ baseUrl: `${h.api.url}/v1`, token: stale })], egress: h.gateway.bundle().egress });
    h.api.ledger.allow(stale);
    h.api.ledger.revoke(stale); // the fake now answers 401 to it, like Anthropic after a rotation elsewhere
    h.api.ledger.allow(fresh);
    const reports: string[] = [];
    h.gateway.onRejected((route, fp) => {
      reports.push(`${route}:${fp}`);
      return { routes: [anthropicOauthRoute({ baseUrl: `${h.api.url}/v1`, token: fresh })], egress: h.gateway.bundle().egress };
    });
    h.api.reset();
    const res = await h.run(['curl', '-sS', '--fail-with-body', 'https://inference.local/v1/models', '-H', 'anthropic-version: 2023-06-01']);
    expect(res.exitCode).toBe(0);
    expect(reports).toEqual([`inference.local:${fingerprintOf(stale)}`]);
    expect(h.api.requests.map((r) => [r.status, authOf(r)])).toEqual([
      [401, [`Bearer ${stale}`]],
      [200, [`Bearer ${fresh}`]],
    ]);
    h.gateway.onRejected(() => undefined);
  });

  it('an expired credential with a failing refresh gives an Anthropic-shaped error naming the cause, and nothing is sent', async () => {
    h.gateway.setBundle({
      routes: [anthropicOauthRoute({ baseUrl: `${h.api.url}/v1`, token: h.upstreamToken, expiresAt: Date.now() - 1_000 })],
      egress: h.gateway.bundle().egress,
    });
    h.api.reset();
    const res = await h.run(
      ['curl', '-sS', '-w', '\n%{http_code}', 'https://inference.local/v1/messages', '-H', 'content-type: application/json', '-H', 'anthropic-version: 2023-06-01', '-d', '{"model":"claude-haiku-4-5","max_tokens":5,"messages":[]}'],
      // The refresh fails: from now on the gateway cannot hand out anything fresh.
      { onReady: () => h.gateway.failWith(503) },
    );
    h.gateway.failWith(undefined);
    const [body, status] = (res.stdout ?? '').split('\n');
    expect(status).toBe('503');
    const parsed = JSON.parse(body ?? '') as { type: string; error: { type: string; message: string } };
    expect(parsed.type).toBe('error');
    expect(parsed.error.type).toBe('api_error');
    expect(parsed.error.message).toMatch(/credential of provider 'claude-plan'.*expired.*no fresh one.*openshell provider refresh status claude-plan/);
    expect(h.api.requests).toHaveLength(0);
    h.gateway.setBundle({ routes: [anthropicOauthRoute({ baseUrl: `${h.api.url}/v1`, token: h.upstreamToken })], egress: h.gateway.bundle().egress });
  });

  it("propagates the child's exit code and terminates it on abort", async () => {
    expect((await h.run(['sh', '-c', 'exit 42'])).exitCode).toBe(42);
    const abort = new AbortController();
    const res = await h.run(['sleep', '20'], { onReady: () => setTimeout(() => abort.abort(), 100), signal: abort.signal });
    expect(res.exitCode).toBe(128 + 15);
  });

  it.each([
    ['SIGABRT', 134],
    ['SIGSEGV', 139],
    ['SIGPIPE', 141],
  ] as const)('a child killed by %s exits 128 + its signal number (%i)', async (signal, exitCode) => {
    const res = await h.run(['sh', '-c', `kill -${signal.slice(3)} $$`]);
    expect(res.exitCode).toBe(exitCode);
    // Under bwrap the supervisor's own child (bwrap) exits with the code; without isolation it sees the signal.
    if (isolation === 'none') expect(res.signal).toBe(signal);
  });

  return { harness: () => h };
}
