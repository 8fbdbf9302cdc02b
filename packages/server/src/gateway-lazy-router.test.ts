import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createFakeAnthropic, createFakeTokenEndpoint, type FakeAnthropic, type FakeLogin, type FakeTokenEndpoint } from '@openshell/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Starting the gateway loads neither @openshell/router nor undici: the router (and undici under it)
// is loaded by the first verification probe, undici alone by the first token request. Module loading
// is process-wide, so this runs a fresh node process that imports the package entry (src/index.ts,
// what `openshell gateway start` imports), starts the gateway on SQLite, and records every ESM
// resolution, in order, to a file with a module hook (appended synchronously by the hook before the
// module loads, so a marker written afterwards by the process sits after it).

/** Module hook: appends `specifier \t parent \t resolved url` for every ESM resolution. */
const HOOKS = `
import { appendFileSync } from 'node:fs';
let logFile;
export function initialize(data) { logFile = data.logFile; }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(logFile, [specifier, context.parentURL ?? '', result.url].join('\\t') + '\\n');
  return result;
}
`;

const REGISTER = `
import { register } from 'node:module';
register(new URL('./hooks.mjs', import.meta.url), { data: { logFile: process.env.LAZY_ROUTER_LOG } });
`;

/**
 * The child: start the gateway, answer /readyz, mark; rotate a refresh token, mark; run one probe,
 * mark; probe again; report.
 */
const DRIVER = `
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
const mark = (name) => appendFileSync(process.env.LAZY_ROUTER_LOG, '#' + name + '\\n');
const dir = process.env.LAZY_ROUTER_DIR;
const login = JSON.parse(process.env.LAZY_ROUTER_LOGIN);
const { createGateway } = await import(process.env.LAZY_ROUTER_ENTRY);
const gw = await createGateway({
  dataDir: join(dir, 'data'),
  configDir: join(dir, 'config'),
  profilesDir: join(dir, 'profiles'),
  listen: { host: '127.0.0.1', port: 0 },
  logLevel: 'silent',
});
const url = await gw.start();
const ready = (await fetch(url + '/readyz')).status;
mark('ready');
const token = readFileSync(join(dir, 'config', 'gateways', 'local.token'), 'utf8').trim();
const call = async (method, path, body) => {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
};
const oauth = await call('POST', '/v1/providers', {
  name: 'oauth',
  type: 'anthropic-oauth',
  credentials: { ANTHROPIC_OAUTH_TOKEN: login.accessToken },
  credentialExpiresAt: { ANTHROPIC_OAUTH_TOKEN: login.expiresAt },
});
const configured = await call('PUT', '/v1/providers/oauth/refresh', { material: { refresh_token: login.refreshToken } });
const rotated = await call('POST', '/v1/providers/oauth/refresh/rotate', {});
const current = (await gw.store.getProvider('oauth'))?.credentials.ANTHROPIC_OAUTH_TOKEN;
mark('refreshed');
const created = await call('POST', '/v1/providers', {
  name: 'plan',
  type: 'anthropic-oauth',
  credentials: { ANTHROPIC_OAUTH_TOKEN: process.env.LAZY_ROUTER_TOKEN },
  config: { ANTHROPIC_OAUTH_BASE_URL: process.env.LAZY_ROUTER_UPSTREAM + '/v1' },
});
const verified = await call('POST', '/v1/providers/plan/verify', {});
mark('probed');
const again = await call('POST', '/v1/providers/plan/verify', {});
await gw.close();
const refresh = { oauth: oauth.status, configured: configured.status, rotated, changed: current !== undefined && current !== login.accessToken };
process.stdout.write(JSON.stringify({ ready, refresh, created: created.status, verified, again: again.status }) + '\\n');
`;

const GOOD = 'sk-ant-oat01-lazy-router-good-token-0001';
const BUILTIN_YAML = fileURLToPath(new URL('../../../providers/anthropic-oauth.yaml', import.meta.url));

interface Resolution {
  readonly specifier: string;
  readonly parent: string;
  readonly url: string;
}

type Phase = 'startup' | 'refresh' | 'probe';
const NEXT_PHASE: Record<string, Phase | 'after'> = { '#ready': 'refresh', '#refreshed': 'probe', '#probed': 'after' };

/** Splits the hook log at the `#name` markers: before `ready`, `ready`..`refreshed`, `refreshed`..`probed`. */
function phases(log: string): Record<Phase, Resolution[]> & { markers: string[] } {
  const out = { startup: [] as Resolution[], refresh: [] as Resolution[], probe: [] as Resolution[], markers: [] as string[] };
  let phase: Phase | 'after' = 'startup';
  for (const line of log.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      out.markers.push(line.slice(1));
      phase = NEXT_PHASE[line] ?? 'after';
      continue;
    }
    const [specifier = '', parent = '', url = ''] = line.split('\t');
    if (phase !== 'after') out[phase].push({ specifier, parent, url });
  }
  return out;
}

const isRouter = (r: Resolution) => r.specifier.startsWith('@openshell/router') || /\/packages\/router\/(src|dist)\//.test(r.url);
const isForwarder = (r: Resolution) => /\/packages\/router\/(src\/forwarder\.ts|dist\/forwarder\.js)$/.test(r.url);
/** undici by name, or any file of the undici package (however it is reached). */
const isUndici = (r: Resolution) => r.specifier === 'undici' || r.specifier.startsWith('undici/') || /\/node_modules\/undici\//.test(r.url);
const loaded = (rs: readonly Resolution[], file: string) => rs.some((r) => r.url.endsWith(`/packages/server/src/${file}`));
const undiciImporters = (rs: readonly Resolution[]) => [...new Set(rs.filter((r) => r.specifier === 'undici').map((r) => r.parent.replace(/^.*\/packages\//, '')))];

describe('gateway start-up loads neither the router nor undici', () => {
  let dir: string;
  let fake: FakeAnthropic;
  let tokens: FakeTokenEndpoint;
  let login: FakeLogin;
  let result: {
    ready: number;
    refresh: { oauth: number; configured: number; rotated: { status: number; json: Record<string, unknown> }; changed: boolean };
    created: number;
    verified: { status: number; json: { verification?: Record<string, unknown> } };
    again: number;
  };
  let log: ReturnType<typeof phases>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'osgw-lazy-router-'));
    fake = await createFakeAnthropic({ accessTokens: [GOOD] });
    tokens = await createFakeTokenEndpoint({ expiresIn: 3600 });
    login = tokens.issueLogin();
    // The built-in anthropic-oauth profile, shadowed by an admin profile whose only change is a loopback token URL.
    const yaml = (await readFile(BUILTIN_YAML, 'utf8')).replace(/token_urls:\n(\s+- https:\/\/\S+\n)+/, `token_urls:\n        - ${tokens.tokenUrl}\n`);
    expect(yaml).toContain(tokens.tokenUrl);
    await mkdir(join(dir, 'profiles'));
    await writeFile(join(dir, 'profiles', 'anthropic-oauth.yaml'), yaml);
    await writeFile(join(dir, 'hooks.mjs'), HOOKS);
    await writeFile(join(dir, 'register.mjs'), REGISTER);
    await writeFile(join(dir, 'driver.mjs'), DRIVER);
    const logFile = join(dir, 'resolutions.log');
    // The gateway makes its own key file in the data dir; no key or database from the outer environment.
    const { OPENSHELL_KEK: _kek, OPENSHELL_DATABASE_URL: _db, ...childEnv } = process.env;
    await writeFile(logFile, '');
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', '--import', pathToFileURL(join(dir, 'register.mjs')).href, join(dir, 'driver.mjs')],
      {
        cwd: join(import.meta.dirname, '..'),
        env: {
          ...childEnv,
          LAZY_ROUTER_LOG: logFile,
          LAZY_ROUTER_DIR: dir,
          LAZY_ROUTER_ENTRY: pathToFileURL(join(import.meta.dirname, 'index.ts')).href,
          LAZY_ROUTER_UPSTREAM: fake.url,
          LAZY_ROUTER_TOKEN: GOOD,
          LAZY_ROUTER_LOGIN: JSON.stringify(login),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 50_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    clearTimeout(timer);
    expect(code, stderr).toBe(0);
    result = JSON.parse(stdout.trim().split('\n').pop() ?? '{}');
    log = phases(await readFile(logFile, 'utf8'));
  }, 60_000);

  afterAll(async () => {
    await fake?.close();
    await tokens?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('the hook saw the package entry start the gateway (the log is not empty by accident)', () => {
    expect(log.markers).toEqual(['ready', 'refreshed', 'probed']);
    expect(loaded(log.startup, 'index.ts')).toBe(true);
    expect(loaded(log.startup, 'gateway.ts')).toBe(true);
    // The entry re-exports the probe and the token request: both modules load at start-up, their dependencies do not.
    expect(loaded(log.startup, 'verify-probe.ts')).toBe(true);
    expect(loaded(log.startup, 'refresh/token-request.ts')).toBe(true);
    expect(result.ready).toBe(200);
  });

  it('until /readyz answers, no module imports @openshell/router or undici', () => {
    expect(log.startup.filter(isRouter)).toEqual([]);
    expect(log.startup.filter(isUndici)).toEqual([]);
  });

  it('the first token request loads undici (and only for the token request), and the rotation works', () => {
    expect(result.refresh.oauth).toBe(201);
    expect(result.refresh.configured).toBe(200);
    expect(result.refresh.rotated.status).toBe(200);
    expect(result.refresh.rotated.json).toMatchObject({ status: 'refreshed', consecutiveFailures: 0 });
    expect(result.refresh.changed).toBe(true);
    expect(tokens.calls.length).toBe(1);
    expect(undiciImporters(log.refresh)).toEqual(['server/src/refresh/token-request.ts']);
    expect(log.refresh.filter(isRouter)).toEqual([]);
  });

  it('the first probe loads the router and its forwarder, and the probe answers', () => {
    expect(result.created).toBe(201);
    expect(result.verified.status).toBe(200);
    expect(result.verified.json.verification).toMatchObject({ performed: true, status: 200, method: 'GET', url: `${fake.url}/v1/models` });
    expect(log.probe.some(isForwarder)).toBe(true);
    expect(undiciImporters(log.probe)).toContain('router/src/forwarder.ts');
    expect(result.again).toBe(200);
  });
});
