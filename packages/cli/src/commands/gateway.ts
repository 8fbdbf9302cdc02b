import { spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CliError, usageError } from '../cli-error.js';
import type { RunContext } from '../context.js';
import { keyValueLines, renderTable } from '../format.js';
import { createGatewayClient, GatewayApiError } from '../gateway-client.js';
import {
  checkGatewayName,
  listGatewayEntries,
  readActiveGateway,
  readGatewayEntry,
  readGatewayToken,
  writeActiveGateway,
  writeGatewayEntry,
  writeGatewayToken,
} from '../gateway-registry.js';
import { cliConfigDir, defaultGatewayDataDir } from '../paths.js';
import { readLine } from '../read-input.js';
import { parseGatewayUrl, resolveGateway } from '../resolve-gateway.js';

/** Flags of `gateway start`. */
interface StartOptions {
  name: string;
  listen: string;
  dataDir?: string;
  databaseUrl?: string;
  profilesDir?: string;
  tlsCert?: string;
  tlsKey?: string;
  kekFile?: string;
  insecure?: boolean;
  logLevel?: string;
  detach?: boolean;
}

/** `HOST:PORT` (IPv6 in brackets) → host and port. */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw usageError(`--listen '${value}' is not HOST:PORT`, 'For example --listen 127.0.0.1:8787 (port 0 picks a free port).');
  }
  return { host: (m[1] ?? m[2]) as string, port };
}

function dataDirOf(ctx: RunContext, o: { dataDir?: string }): string {
  return resolve(o.dataDir ?? defaultGatewayDataDir(ctx.env));
}

function serverBinPath(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@openshell/server/package.json')), 'bin', 'openshell-gateway.js');
}

function gatewayFlags(o: StartOptions, dataDir: string): string[] {
  const flags = ['--name', o.name, '--listen', o.listen, '--data-dir', dataDir];
  if (o.profilesDir) flags.push('--profiles-dir', resolve(o.profilesDir));
  if (o.tlsCert) flags.push('--tls-cert', resolve(o.tlsCert));
  if (o.tlsKey) flags.push('--tls-key', resolve(o.tlsKey));
  if (o.kekFile) flags.push('--kek-file', resolve(o.kekFile));
  if (o.insecure) flags.push('--insecure');
  if (o.logLevel) flags.push('--log-level', o.logLevel);
  return flags;
}

/** The environment of a detached gateway: ours, minus the admin token, plus the database URL (never in argv). */
function childEnv(ctx: RunContext, databaseUrl: string | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.OPENSHELL_ADMIN_TOKEN;
  delete env.CLAUDE_CODE_OAUTH_TOKEN;
  if (databaseUrl) env.OPENSHELL_DATABASE_URL = databaseUrl;
  if (!env.XDG_CONFIG_HOME && ctx.env.XDG_CONFIG_HOME) env.XDG_CONFIG_HOME = ctx.env.XDG_CONFIG_HOME;
  return env;
}

/** `gateway start`. */
export async function gatewayStart(ctx: RunContext, opts: Record<string, unknown>): Promise<void> {
  const o = opts as unknown as StartOptions;
  checkGatewayName(o.name);
  const listen = parseListen(o.listen);
  if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) throw usageError('--tls-cert and --tls-key go together');
  const dataDir = dataDirOf(ctx, o);
  const databaseUrl = o.databaseUrl ?? (ctx.env.OPENSHELL_DATABASE_URL || undefined);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (o.detach) {
    await startDetached(ctx, o, dataDir, databaseUrl);
    return;
  }
  const { createGateway } = await import('@openshell/server');
  type Options = Parameters<typeof createGateway>[0];
  const options: Options = {
    name: o.name,
    dataDir,
    listen,
    configDir: cliConfigDir(ctx.env),
    logStream: process.stderr,
    ...(databaseUrl ? { databaseUrl } : {}),
    ...(o.profilesDir ? { profilesDir: resolve(o.profilesDir) } : {}),
    ...(o.tlsCert && o.tlsKey ? { tls: { cert: await readFile(o.tlsCert), key: await readFile(o.tlsKey) } } : {}),
    ...(o.kekFile ? { kekFile: resolve(o.kekFile) } : {}),
    ...(o.insecure ? { insecure: true } : {}),
    ...(o.logLevel ? { logLevel: o.logLevel as NonNullable<NonNullable<Options>['logLevel']> } : {}),
  };
  const gateway = await createGateway(options);
  const url = await gateway.start();
  await writeActiveGateway(ctx.env, o.name);
  if (ctx.out.format === 'json') ctx.out.json({ name: o.name, url, dataDir, detached: false });
  else {
    ctx.out.success(`Gateway '${o.name}' listening on ${url} (active; Ctrl-C stops it)`);
  }
  await new Promise<void>((done) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      ctx.out.info('Stopping the gateway…');
      gateway.close().then(
        () => done(),
        () => done(),
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

const READY_TIMEOUT_MS = 30_000;

async function startDetached(ctx: RunContext, o: StartOptions, dataDir: string, databaseUrl: string | undefined): Promise<void> {
  const pidFile = join(dataDir, 'gateway.pid');
  const logFile = join(dataDir, 'gateway.log');
  const existing = await readPid(pidFile);
  if (existing !== undefined && isGatewayProcess(existing)) {
    throw new CliError('gateway_running', `a gateway is already running from ${dataDir} (pid ${existing})`, {
      hint: `Stop it with \`openshell gateway stop${o.dataDir ? ` --data-dir ${dataDir}` : ''}\`, or pick another --data-dir.`,
    });
  }
  const logFd = openSync(logFile, 'a', 0o600);
  // The log is appended to across starts: only what this start writes is read back.
  const startOffset = fstatSync(logFd).size;
  const child = spawn(process.execPath, [serverBinPath(), ...gatewayFlags(o, dataDir)], {
    detached: true,
    stdio: ['ignore', logFd, logFd],
    env: childEnv(ctx, databaseUrl),
  });
  closeSync(logFd);
  let exited: number | null | undefined;
  child.on('exit', (code) => {
    exited = code;
  });
  if (child.pid === undefined) throw new CliError('gateway_spawn_failed', 'could not start the gateway process', { hint: `Check that @openshell/server is installed with the CLI; see ${logFile}.` });
  await writeFile(pidFile, `${child.pid}\n`, { mode: 0o600 });
  const progress = await ctx.out.progress(`Starting gateway '${o.name}' (log: ${logFile})`);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let url: string | undefined;
  while (Date.now() < deadline && exited === undefined) {
    const log = await logSince(logFile, startOffset);
    const m = /openshell-gateway listening on (\S+)/.exec(log);
    if (m?.[1]) {
      url = m[1];
      if (await isReady(url)) break;
    }
    await sleep(100);
  }
  if (exited !== undefined || url === undefined || !(await isReady(url))) {
    progress.fail('The gateway did not become ready');
    if (exited === undefined) child.kill('SIGTERM');
    await rm(pidFile, { force: true });
    const tail = (await logSince(logFile, startOffset)).trim().split('\n').slice(-8).join('\n');
    throw new CliError('gateway_start_failed', `the gateway ${exited !== undefined ? `exited with code ${exited}` : 'did not become ready within 30 s'}${tail ? `; last log lines:\n${tail}` : ''}`, {
      hint: `See ${logFile}.`,
    });
  }
  child.unref();
  progress.succeed(`Gateway '${o.name}' is ready`);
  await writeActiveGateway(ctx.env, o.name);
  if (ctx.out.format === 'json') ctx.out.json({ name: o.name, url, dataDir, detached: true, pid: child.pid, logFile });
  else {
    ctx.out.success(`Gateway '${o.name}' listening on ${url} (pid ${child.pid}, active)`);
    ctx.out.info(`Log: ${logFile}. Stop it with \`openshell gateway stop${o.dataDir ? ` --data-dir ${dataDir}` : ''}\`.`);
  }
}

/** The text appended to `file` since byte `offset` ('' when it cannot be read). */
async function logSince(file: string, offset: number): Promise<string> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (handle === undefined) return '';
  try {
    const { size } = await handle.stat();
    const bytes = Buffer.alloc(Math.max(0, size - offset));
    const { bytesRead } = await handle.read(bytes, 0, bytes.length, offset);
    return bytes.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}

async function isReady(url: string): Promise<boolean> {
  try {
    const client = createGatewayClient({ url, via: 'env' });
    await client.request('GET', '/readyz', undefined, { timeoutMs: 2000 });
    return true;
  } catch {
    return false;
  }
}

async function readPid(pidFile: string): Promise<number | undefined> {
  const text = await readFile(pidFile, 'utf8').catch(() => undefined);
  const pid = text === undefined ? Number.NaN : Number(text.trim());
  return Number.isInteger(pid) && pid > 1 ? pid : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Alive, and (where /proc exists) really a gateway: a recycled pid is never signalled. */
function isGatewayProcess(pid: number): boolean {
  if (!isAlive(pid)) return false;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('openshell-gateway');
  } catch {
    return true; // no /proc (macOS): trust the pid file
  }
}

/** `gateway stop`. */
export async function gatewayStop(ctx: RunContext, opts: Record<string, unknown>): Promise<void> {
  const o = opts as { name: string; dataDir?: string };
  const dataDir = dataDirOf(ctx, o);
  const pidFile = join(dataDir, 'gateway.pid');
  const pid = await readPid(pidFile);
  if (pid === undefined || !isGatewayProcess(pid)) {
    await rm(pidFile, { force: true });
    throw new CliError('gateway_not_running', `no detached gateway is running from ${dataDir}`, {
      hint: 'A foreground gateway stops with Ctrl-C. For another data directory pass --data-dir.',
    });
  }
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && isAlive(pid)) await sleep(100);
  if (isAlive(pid)) {
    process.kill(pid, 'SIGKILL');
    ctx.out.warn(`The gateway (pid ${pid}) did not stop within 15 s and was killed.`);
  }
  await rm(pidFile, { force: true });
  if (ctx.out.format === 'json') ctx.out.json({ stopped: true, name: o.name, pid, dataDir });
  else ctx.out.success(`Stopped gateway '${o.name}' (pid ${pid})`);
}

function parseRefreshMetrics(text: string): Record<string, number> | undefined {
  const out: Record<string, number> = {};
  let seen = false;
  for (const line of text.split('\n')) {
    const m = /^openshell_gateway_refresh_credentials\{status="([a-z_]+)"\}\s+(\d+(?:\.\d+)?)/.exec(line);
    if (m?.[1] && m[2]) {
      out[m[1]] = Number(m[2]);
      seen = true;
    }
  }
  return seen ? out : undefined;
}

/** `gateway status`. */
export async function gatewayStatus(ctx: RunContext): Promise<void> {
  const target = await resolveGateway(ctx.env, ctx.globals.gateway);
  const client = createGatewayClient(target);
  let ready: { status?: string; store?: string; version?: string } | undefined;
  let health: { version?: string } | undefined;
  let problem: string | undefined;
  try {
    ready = await client.request('GET', '/readyz', undefined, { timeoutMs: 5000 });
    health = await client.request<{ version?: string }>('GET', '/healthz', undefined, { timeoutMs: 5000 }).catch(() => undefined);
  } catch (err) {
    problem = err instanceof Error ? err.message : String(err);
  }
  let info: Record<string, unknown> | undefined;
  let refresh: Record<string, number> | undefined;
  if (ready) {
    info = await client.requestOptional<Record<string, unknown>>('GET', '/v1/gateway').catch(() => undefined);
    if (info && typeof info.refresh === 'object' && info.refresh !== null) refresh = info.refresh as Record<string, number>;
    if (!refresh) {
      try {
        const text = await metricsText(target);
        refresh = text === undefined ? undefined : parseRefreshMetrics(text);
      } catch {
        refresh = undefined;
      }
    }
  }
  const result = {
    name: target.name ?? null,
    url: target.url,
    via: target.via,
    reachable: ready !== undefined,
    ready: ready?.status === 'ready',
    version: [info?.version, ready?.version, health?.version].find((v): v is string => typeof v === 'string') ?? null,
    store: ready?.store ?? (typeof info?.store === 'string' ? info.store : null),
    refresh: refresh ?? null,
    ...(problem ? { error: problem } : {}),
  };
  if (ctx.out.format === 'json') ctx.out.json(result);
  else {
    ctx.out.line(ctx.out.colors.bold(ctx.out.colors.cyan('Gateway:')));
    const refreshText = refresh
      ? Object.entries(refresh).map(([k, v]) => `${k} ${v}`).join(', ')
      : '-';
    ctx.out.line(
      keyValueLines(ctx.out, [
        ['Name', result.name ?? '(from OPENSHELL_GATEWAY_URL)'],
        ['Endpoint', result.url],
        ['Status', result.ready ? ctx.out.colors.green('ready') : result.reachable ? ctx.out.colors.yellow('not ready') : ctx.out.colors.red('unreachable')],
        ['Version', result.version ?? '-'],
        ['Store', result.store ?? '-'],
        ['Refresh', refreshText],
      ]),
    );
    if ((refresh?.reauthRequired ?? refresh?.reauth_required ?? 0) > 0) {
      ctx.out.warn('Some credentials need a new login: see `openshell provider refresh status NAME`.');
    }
  }
  if (!result.reachable) {
    throw new CliError('gateway_unreachable', `the gateway at ${target.url} is not reachable${problem ? ` (${problem})` : ''}`, {
      hint: target.name ? `Start it with \`openshell gateway start${target.name === 'local' ? '' : ` --name ${target.name}`}\`.` : 'Check OPENSHELL_GATEWAY_URL.',
    });
  }
}

async function metricsText(target: Parameters<typeof createGatewayClient>[0]): Promise<string | undefined> {
  const { request } = target.url.startsWith('https:') ? await import('node:https') : await import('node:http');
  return new Promise((resolveText) => {
    const headers: Record<string, string> = target.token ? { authorization: `Bearer ${target.token.reveal()}` } : {};
    const req = request(new URL('/metrics', target.url), { headers, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolveText(res.statusCode === 200 ? Buffer.concat(chunks).toString('utf8') : undefined));
      res.on('error', () => resolveText(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolveText(undefined));
    req.end();
  });
}

/** `gateway add NAME --url URL`. */
export async function gatewayAdd(ctx: RunContext, opts: Record<string, unknown>, args: string[]): Promise<void> {
  const o = opts as { url: string; caCert?: string; activate?: boolean };
  const name = checkGatewayName(args[0] ?? '');
  const url = parseGatewayUrl(o.url, '--url').toString().replace(/\/$/, '');
  const { Secret } = await import('@openshell/core');
  const fromEnv = ctx.env.OPENSHELL_ADMIN_TOKEN?.trim();
  const token = fromEnv || (await readLine('the admin token', { secret: true, prompt: `Admin token for ${name}: `, input: ctx.stdin }));
  if (!token) {
    throw new CliError('missing_admin_token', 'no admin token was given', {
      hint: 'Pipe it on stdin (`openshell gateway add NAME --url URL < token-file`) or set OPENSHELL_ADMIN_TOKEN.',
    });
  }
  const caCertFile = o.caCert ? resolve(o.caCert) : undefined;
  await writeGatewayEntry(ctx.env, { name, url, ...(caCertFile ? { caCertFile } : {}) });
  await writeGatewayToken(ctx.env, name, new Secret(token));
  const activate = o.activate !== false;
  if (activate) await writeActiveGateway(ctx.env, name);
  // Check it now so a typo shows up here rather than at the next command.
  let check: 'ok' | 'unreachable' | 'token_refused' = 'ok';
  try {
    await createGatewayClient({ name, url, token: new Secret(token), via: 'flag', ...(caCertFile ? { caCertFile } : {}) }).request('GET', '/v1/providers', undefined, { timeoutMs: 5000 });
  } catch (err) {
    check = err instanceof GatewayApiError && (err.status === 401 || err.status === 403) ? 'token_refused' : 'unreachable';
  }
  if (ctx.out.format === 'json') ctx.out.json({ name, url, active: activate, check });
  else ctx.out.success(`Gateway '${name}' added${activate ? ' and set as active' : ''} (${url})`);
  if (check === 'unreachable') ctx.out.warn(`The gateway is not reachable at ${url} right now.`);
  if (check === 'token_refused') ctx.out.warn(`The gateway at ${url} refused this admin token; run \`openshell gateway add ${name} --url ${url}\` again with the right one.`);
}

/** `gateway list`. */
export async function gatewayList(ctx: RunContext): Promise<void> {
  const entries = await listGatewayEntries(ctx.env);
  const active = await readActiveGateway(ctx.env);
  const rows = await Promise.all(
    entries.map(async (e) => ({ name: e.name, url: e.url, active: e.name === active, hasToken: (await readGatewayToken(ctx.env, e.name)) !== undefined })),
  );
  if (ctx.out.format === 'json') {
    ctx.out.json({ gateways: rows, active: active ?? null });
    return;
  }
  if (rows.length === 0) {
    ctx.out.line('No gateways. Start one with `openshell gateway start` or add one with `openshell gateway add NAME --url URL`.');
    return;
  }
  ctx.out.line(await renderTable(ctx.out, ['', 'NAME', 'URL', 'TOKEN'], rows.map((r) => [r.active ? '*' : '', r.name, r.url, r.hasToken ? 'yes' : 'no'])));
}

/** `gateway use NAME`. */
export async function gatewayUse(ctx: RunContext, _opts: Record<string, unknown>, args: string[]): Promise<void> {
  const name = checkGatewayName(args[0] ?? '');
  if (!(await readGatewayEntry(ctx.env, name))) {
    throw new CliError('unknown_gateway', `unknown gateway '${name}'`, { hint: 'List them with `openshell gateway list`.' });
  }
  await writeActiveGateway(ctx.env, name);
  if (ctx.out.format === 'json') ctx.out.json({ active: name });
  else ctx.out.success(`Gateway '${name}' is now active`);
}
