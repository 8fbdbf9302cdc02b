import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createFakeAnthropic, type FakeAnthropic } from '@openshell/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The gateway loads @openshell/router (its forwarder, and undici under it) on the first verification
// probe, not at start-up. Module loading is process-wide, so this runs a fresh node process that
// starts the gateway on SQLite with a module hook recording every ESM resolution, in order, to a file
// (appended synchronously by the hook before the module loads, so a marker written afterwards by the
// process sits after it).

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

/** The child: start the gateway, mark, answer /readyz, mark, run one probe, mark, report. */
const DRIVER = `
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
const mark = (name) => appendFileSync(process.env.LAZY_ROUTER_LOG, '#' + name + '\\n');
const dir = process.env.LAZY_ROUTER_DIR;
const { createGateway } = await import(process.env.LAZY_ROUTER_GATEWAY);
const gw = await createGateway({
  dataDir: join(dir, 'data'),
  configDir: join(dir, 'config'),
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
process.stdout.write(JSON.stringify({ ready, created: created.status, verified, again: again.status }) + '\\n');
`;

const GOOD = 'sk-ant-oat01-lazy-router-good-token-0001';

interface Resolution {
  readonly specifier: string;
  readonly parent: string;
  readonly url: string;
}

/** Splits the hook log at the `#name` markers: resolutions before `ready`, then between `ready` and `probed`. */
function phases(log: string): { startup: Resolution[]; probe: Resolution[]; markers: string[] } {
  const out = { startup: [] as Resolution[], probe: [] as Resolution[], markers: [] as string[] };
  let phase: 'startup' | 'probe' | 'after' = 'startup';
  for (const line of log.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      out.markers.push(line.slice(1));
      phase = line === '#ready' ? 'probe' : 'after';
      continue;
    }
    const [specifier = '', parent = '', url = ''] = line.split('\t');
    if (phase !== 'after') out[phase].push({ specifier, parent, url });
  }
  return out;
}

const isRouter = (r: Resolution) => r.specifier.startsWith('@openshell/router') || /\/packages\/router\/(src|dist)\//.test(r.url);
const isForwarder = (r: Resolution) => /\/packages\/router\/(src\/forwarder\.ts|dist\/forwarder\.js)$/.test(r.url);
const isVerifyProbe = (r: Resolution) => /\/packages\/server\/src\/verify-probe\.ts$/.test(r.url);
const undiciImporters = (rs: readonly Resolution[]) => [...new Set(rs.filter((r) => r.specifier === 'undici').map((r) => r.parent.replace(/^.*\/packages\//, '')))];

describe('gateway start-up does not load the router', () => {
  let dir: string;
  let fake: FakeAnthropic;
  let result: { ready: number; created: number; verified: { status: number; json: { verification?: Record<string, unknown> } }; again: number };
  let log: ReturnType<typeof phases>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'osgw-lazy-router-'));
    fake = await createFakeAnthropic({ accessTokens: [GOOD] });
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
          LAZY_ROUTER_GATEWAY: pathToFileURL(join(import.meta.dirname, 'gateway.ts')).href,
          LAZY_ROUTER_UPSTREAM: fake.url,
          LAZY_ROUTER_TOKEN: GOOD,
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
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('the hook saw the gateway start (the log is not empty by accident)', () => {
    expect(log.markers).toEqual(['ready', 'probed']);
    expect(log.startup.some((r) => r.url.endsWith('/packages/server/src/gateway.ts'))).toBe(true);
    expect(result.ready).toBe(200);
  });

  it('until the first probe, neither @openshell/router nor the probe module is loaded', () => {
    expect(log.startup.filter(isRouter)).toEqual([]);
    expect(log.startup.filter(isVerifyProbe)).toEqual([]);
    // What still imports undici at start-up is outside the router: the refresh engine's token request
    // (server/src/refresh/token-request.ts imports undici statically). No other module may.
    for (const importer of undiciImporters(log.startup)) expect(importer).toBe('server/src/refresh/token-request.ts');
  });

  it('the first probe loads the router and its forwarder, and the probe answers', () => {
    expect(result.created).toBe(201);
    expect(result.verified.status).toBe(200);
    expect(result.verified.json.verification).toMatchObject({ performed: true, status: 200, method: 'GET', url: `${fake.url}/v1/models` });
    expect(log.probe.some(isForwarder)).toBe(true);
    expect(log.probe.some(isVerifyProbe)).toBe(true);
    expect(undiciImporters(log.probe)).toContain('router/src/forwarder.ts');
    expect(result.again).toBe(200);
  });
});
