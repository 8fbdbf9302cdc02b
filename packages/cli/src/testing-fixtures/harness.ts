// Test harness: runs the REAL built `openshell` binary as a child process against a real gateway, with
// HOME, XDG_* and CLAUDE_CONFIG_DIR pointed at temporary directories, and records every process
// command line seen while it runs (to prove no secret ever sits in any child's argv).
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createGateway, type Gateway } from '@openshell/server';
import {
  createFakeAnthropic,
  createFakeTokenEndpoint,
  type FakeAnthropic,
  type FakeTokenEndpoint,
  watchCommandLines,
} from '@openshell/testing';

const here = dirname(fileURLToPath(import.meta.url));
/** packages/cli */
export const CLI_PACKAGE_DIR = resolve(here, '..', '..');
/** The built bin (globalSetup builds it). */
export const CLI_BIN = join(CLI_PACKAGE_DIR, 'bin', 'openshell.js');
const REPO_ROOT = resolve(CLI_PACKAGE_DIR, '..', '..');

/** Temp dirs standing in for a user's machine. */
export interface TestHome {
  readonly root: string;
  readonly home: string;
  readonly xdgConfig: string;
  readonly xdgData: string;
  readonly claudeConfig: string;
  /** The env a CLI child gets (nothing inherited from the test process but PATH). */
  readonly env: Record<string, string>;
  cleanup(): Promise<void>;
}

/** Creates a fresh temp home. `claudeConfigDir: false` leaves CLAUDE_CONFIG_DIR unset. */
export async function createTestHome(options: { claudeConfigDir?: boolean } = {}): Promise<TestHome> {
  const root = await mkdtemp(join(tmpdir(), 'openshell-cli-'));
  const home = join(root, 'home');
  const xdgConfig = join(root, 'config');
  const xdgData = join(root, 'data');
  const claudeConfig = join(root, 'claude-config');
  await Promise.all([home, xdgConfig, xdgData].map((d) => mkdir(d, { recursive: true })));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    USER: 'openshell-tester',
    XDG_CONFIG_HOME: xdgConfig,
    XDG_DATA_HOME: xdgData,
    LANG: 'C.UTF-8',
  };
  if (options.claudeConfigDir !== false) env.CLAUDE_CONFIG_DIR = claudeConfig;
  return {
    root,
    home,
    xdgConfig,
    xdgData,
    claudeConfig,
    env,
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

/** The result of one CLI run. */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Every distinct process command line (NUL → space) observed on the machine while the CLI ran. */
  readonly commandLines: readonly string[];
}

/** Options of {@link runCli}. */
export interface RunOptions {
  readonly env: Record<string, string>;
  /** Written to the child's stdin, then stdin is closed. */
  readonly stdin?: string;
  /** Called with stderr text as it arrives; may answer by writing to stdin (interactive flows). */
  readonly onStderr?: (text: string, stdin: Writable) => void;
  readonly timeoutMs?: number;
  /** Wrap the command (e.g. `['keyctl', 'session', '-']`). */
  readonly wrap?: readonly string[];
  /** Run another script than the CLI bin (the keychain fixture). */
  readonly script?: string;
}

/** Runs `openshell ...args` (the built bin) and watches every process's argv while it runs. */
export async function runCli(args: readonly string[], options: RunOptions): Promise<CliRun> {
  const script = options.script ?? CLI_BIN;
  const wrap = options.wrap ?? [];
  const argv = [...wrap.slice(1), process.execPath, script, ...args];
  const command = wrap[0] ?? process.execPath;
  const finalArgv = wrap.length > 0 ? argv : [script, ...args];
  const child = spawn(command, finalArgv, { env: options.env, stdio: ['pipe', 'pipe', 'pipe'], cwd: CLI_PACKAGE_DIR });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    stdout += c;
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
    options.onStderr?.(stderr, child.stdin);
  });
  child.stdin.on('error', () => {});
  if (options.stdin !== undefined) child.stdin.end(options.stdin);
  else if (!options.onStderr) child.stdin.end();

  // Bounded: stops when the child exits, or at the timeout.
  const argvWatch = watchCommandLines({ maxMs: options.timeoutMs ?? 60_000 });
  const code = await new Promise<number>((resolveCode, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`openshell ${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (c, signal) => {
      clearTimeout(timer);
      resolveCode(c ?? (signal ? 128 : 1));
    });
  });
  return { code, stdout, stderr, commandLines: await argvWatch.stop() };
}

/** Parses the stdout of a `--output json` run. */
export function json<T = Record<string, unknown>>(run: CliRun): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON (exit ${run.code}):\n${run.stdout}\nstderr:\n${run.stderr}`);
  }
}

/** Fakes of Anthropic (API + OAuth token/authorize endpoints) on loopback. */
export interface Fakes {
  readonly tokens: FakeTokenEndpoint;
  readonly api: FakeAnthropic;
  close(): Promise<void>;
}

export async function startFakes(): Promise<Fakes> {
  const tokens = await createFakeTokenEndpoint();
  const api = await createFakeAnthropic({ tokenEndpoint: tokens });
  return {
    tokens,
    api,
    async close() {
      await api.close();
      await tokens.close();
    },
  };
}

/**
 * Writes a `--profiles-dir` holding the built-in anthropic-oauth profile with its token and authorize
 * URLs pointed at the fake (loopback http is allowed for token URLs).
 */
export async function writeProfilesDir(dir: string, fakes: Fakes): Promise<string> {
  const builtin = await readFile(join(REPO_ROOT, 'providers', 'anthropic-oauth.yaml'), 'utf8');
  const tokenUrlsBlock = /token_urls:\n(?:\s+- .*\n)+/;
  if (!tokenUrlsBlock.test(builtin)) throw new Error('providers/anthropic-oauth.yaml: token_urls block not found');
  const text = builtin
    .replace(tokenUrlsBlock, `token_urls:\n        - ${fakes.tokens.tokenUrl}\n`)
    .replace(/authorize_url: .*/, `authorize_url: ${fakes.tokens.authorizeUrl}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'anthropic-oauth.yaml'), text);
  return dir;
}

/** Collects a gateway's log lines (to search them for secrets). */
export function logCollector(): { stream: Writable; text(): string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { stream, text: () => chunks.join('') };
}

/** A real gateway on loopback (in this process), registered as the home's active gateway. */
export interface TestGateway {
  readonly gateway: Gateway;
  readonly url: string;
  readonly logs: () => string;
  /** The admin token the gateway wrote for the CLI (read from its 0600 file). */
  adminToken(): Promise<string>;
  close(): Promise<void>;
}

export async function startTestGateway(home: TestHome, fakes: Fakes): Promise<TestGateway> {
  const profilesDir = await writeProfilesDir(join(home.root, 'profiles'), fakes);
  const logs = logCollector();
  const gateway = await createGateway({
    name: 'local',
    dataDir: join(home.xdgData, 'openshell', 'gateway'),
    configDir: join(home.xdgConfig, 'openshell'),
    profilesDir,
    listen: { host: '127.0.0.1', port: 0 },
    logStream: logs.stream,
    logLevel: 'info',
    env: {},
  });
  const url = await gateway.start();
  return {
    gateway,
    url,
    logs: logs.text,
    adminToken: async () => (await readFile(join(home.xdgConfig, 'openshell', 'gateways', 'local.token'), 'utf8')).trim(),
    close: () => gateway.close(),
  };
}

/** A temp home, the fakes and a gateway registered in that home: where most CLI integration tests start. */
export interface CliWorld {
  readonly home: TestHome;
  readonly fakes: Fakes;
  readonly gw: TestGateway;
  /** Stops the gateway, then the fakes, then removes the home. */
  close(): Promise<void>;
}

/** Starts a {@link CliWorld}; what started is stopped again when a later step fails. */
export async function startCliWorld(): Promise<CliWorld> {
  const home = await createTestHome();
  let fakes: Fakes | undefined;
  try {
    fakes = await startFakes();
    const gw = await startTestGateway(home, fakes);
    const started = fakes;
    return {
      home,
      fakes: started,
      gw,
      async close() {
        await gw.close();
        await started.close();
        await home.cleanup();
      },
    };
  } catch (error) {
    await fakes?.close();
    await home.cleanup();
    throw error;
  }
}

/** A rule of the fault proxy: requests matching method and path get this answer instead of the gateway's. */
export interface FaultRule {
  readonly method: string;
  readonly path: RegExp;
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

/** A loopback proxy in front of the real gateway that fails chosen requests (fault injection). */
export interface FaultProxy {
  readonly url: string;
  /** Requests it answered itself, as `METHOD path`. */
  readonly injected: string[];
  close(): Promise<void>;
}

export async function startFaultProxy(targetUrl: string, rules: readonly FaultRule[]): Promise<FaultProxy> {
  const { createServer, request } = await import('node:http');
  const target = new URL(targetUrl);
  const injected: string[] = [];
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const rule = rules.find((r) => r.method === req.method && r.path.test(path));
    if (rule) {
      injected.push(`${req.method} ${path}`);
      req.resume();
      res.writeHead(rule.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: rule.code, message: rule.message } }));
      return;
    }
    const upstream = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    injected,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** `--output json` shape of a harvest (`provider create|update --from-*`). */
export interface HarvestJson {
  provider: import('../api-types.js').ProviderJson;
  credentialKey: string;
  source: Record<string, string>;
  refresh: import('../api-types.js').ApiRefreshStatus | null;
  verification: { performed: boolean; status?: number; method?: string; url?: string };
  warnings: string[];
}
/** `{ provider }` of provider get/create/update. */
export interface ProviderOut {
  provider: import('../api-types.js').ProviderJson;
}
/** `{ refresh }` of refresh rotate/configure. */
export interface RefreshOut {
  refresh: import('../api-types.js').ApiRefreshStatus;
}
/** `{ credentials }` of refresh status. */
export interface RefreshStatusOut {
  provider: string;
  credentials: import('../api-types.js').ApiRefreshStatus[];
}
