import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { constants, homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Secret } from '@openshell/core';
import { createBundleSync } from './bundle-sync.js';
import { buildChildEnvironment } from './child-env.js';
import { SupervisorError } from './errors.js';
import { createInferenceService } from './inference-handler.js';
import {
  buildBwrapArgs,
  type IsolationMode,
  isHiddenPath,
  NAMESPACE_PROXY_PORT,
  resolveIsolation,
  sandboxHostsFile,
} from './isolation.js';
import { createLogger, type Logger, type LogLevel } from './logger.js';
import { createProxyAuth } from './proxy-auth.js';
import { createProxyServer } from './proxy-server.js';
import { createSandboxCa } from './sandbox-ca.js';
import { readTokenFromFd, scrubTokenFromEnv } from './sandbox-token.js';
import { defaultWorkspaceRoot, prepareWorkspace } from './workspace.js';

/** The Node preload that routes `fetch` through the proxy (shipped in the package). */
export const NODE_FETCH_PRELOAD = fileURLToPath(new URL('../preload/node-fetch-proxy.mjs', import.meta.url));
/** The relay run inside the bwrap namespace (shipped in the package). */
export const NETNS_RELAY_SCRIPT = fileURLToPath(new URL('../relay/netns-relay.mjs', import.meta.url));

/** Options of {@link runSupervisor}. */
export interface SupervisorOptions {
  /** Gateway base URL. */
  readonly gatewayUrl: string;
  /** Sandbox name (also names the workspace). */
  readonly sandbox: string;
  /** The sandbox token, when the caller holds it in memory (e.g. `openshell sandbox run` in-process). */
  readonly token?: Secret;
  /** Or an inherited descriptor to read it from (a pipe the caller writes and closes). */
  readonly tokenFd?: number;
  /** The child command and its arguments. */
  readonly command: readonly string[];
  /** `auto` (default: bwrap on Linux when it works), `bwrap` (required) or `none`. */
  readonly isolation?: IsolationMode;
  /** The sandbox workspace root (default `${XDG_DATA_HOME:-~/.local/share}/openshell/sandboxes/<name>`). */
  readonly workspace?: string;
  /** Working directory of the child (default: the current one, or the sandbox HOME when that is hidden). */
  readonly cwd?: string;
  /** Extra host directories bound read-write into the namespace (a project checkout, say). */
  readonly bind?: readonly string[];
  /** Extra host paths made visible read-only inside the namespace (tools, a checkout to read). */
  readonly readOnly?: readonly string[];
  /** Extra host paths hidden in bwrap mode (besides the host home, gateway data and config). */
  readonly hide?: readonly string[];
  /** PEM file of a CA for an https gateway with a private certificate. */
  readonly gatewayCaFile?: string;
  /** The host environment the allow-list reads from (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** `inherit` (default) or `pipe` (output collected into the result, for tests and embedding). */
  readonly stdio?: 'inherit' | 'pipe';
  /** Forward SIGINT/SIGTERM/SIGHUP/SIGQUIT to the child (default true). */
  readonly forwardSignals?: boolean;
  /** Aborting terminates the child (SIGTERM, then SIGKILL after 5 s). */
  readonly signal?: AbortSignal;
  readonly logLevel?: LogLevel;
  /** Where log lines go (default stderr). */
  readonly logStream?: { write(chunk: string): unknown };
  /** Long-poll hold in seconds (default 25). */
  readonly waitSeconds?: number;
  /** Give up reaching the gateway at start after this long (default 120 s). */
  readonly startTimeoutMs?: number;
  /** Called once the child runs, with what a caller or test may want to inspect. */
  readonly onReady?: (info: SupervisorReadyInfo) => void;
}

/** What {@link SupervisorOptions.onReady} receives: no credential (the child's proxy URL carries this run's proxy secret). */
export interface SupervisorReadyInfo {
  readonly isolation: 'none' | 'bwrap';
  readonly childPid: number | undefined;
  readonly home: string;
  readonly tmp: string;
  readonly runDir: string;
  readonly caCertFile: string;
  /** The child's complete environment. */
  readonly childEnv: Readonly<Record<string, string>>;
}

/** How the run ended. */
export interface SupervisorResult {
  /** The child's exit code (128 + n when it died of signal n). */
  readonly exitCode: number;
  readonly signal?: NodeJS.Signals;
  readonly isolation: 'none' | 'bwrap';
  /** Collected output when `stdio: 'pipe'`. */
  readonly stdout?: string;
  readonly stderr?: string;
}

const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];
const MAX_COLLECTED = 8 * 1024 * 1024;

function announceIsolation(log: Logger, mode: 'none' | 'bwrap', requested: IsolationMode): void {
  if (mode === 'bwrap') {
    log.info('isolation: bwrap — new pid, mount and network namespaces; host home, gateway data and config hidden; the proxy is the only way out');
    return;
  }
  const why = requested === 'none' ? 'as asked (--isolation none)' : process.platform === 'linux' ? 'bwrap is not available here' : `no isolation on ${process.platform}`;
  log.warn(
    `isolation: none (${why}) — the child runs as this user with the host filesystem and network: it can read what this user can read (e.g. ~/.claude, the gateway's data dir) and connect anywhere directly. Credentials stay out of its environment and the sandbox's files, but a hostile child is not contained; use --isolation bwrap on Linux for that`,
  );
}

function collect(stream: NodeJS.ReadableStream | null, into: { text: string }): void {
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    if (into.text.length < MAX_COLLECTED) into.text += chunk;
  });
}

/**
 * Forwards SIGINT/SIGTERM/SIGHUP/SIGQUIT to the child through `deliver`; returns the undo. A terminal's
 * Ctrl-C / Ctrl-\ already reaches the child's process group, so those are not doubled on a TTY.
 */
function forwardSignals(deliver: (sig: NodeJS.Signals) => void): () => void {
  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const sig of FORWARDED) {
    const handler = () => {
      if ((sig === 'SIGINT' || sig === 'SIGQUIT') && process.stdin.isTTY) return;
      deliver(sig);
    };
    handlers.set(sig, handler);
    process.on(sig, handler);
  }
  return () => {
    for (const [sig, handler] of handlers) process.off(sig, handler);
  };
}

/** How the child ended; rejects with `child_spawn_failed` when `started` (its name) could not start. */
function childExit(child: ChildProcess, started: string): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolveExit, rejectExit) => {
    child.once('error', (e) => rejectExit(new SupervisorError('child_spawn_failed', `cannot start ${started}: ${e.message}`, { cause: e })));
    // 'close' waits for the output to drain; a grandchild holding the pipes open must not hang us.
    child.once('exit', (code, signal) => {
      const t = setTimeout(() => resolveExit({ code, signal }), 2_000);
      child.once('close', () => {
        clearTimeout(t);
        resolveExit({ code, signal });
      });
    });
  });
}

/**
 * Runs one sandbox child behind the boundary: reads the sandbox token, fetches environment and
 * route bundle from the gateway, starts the proxy (inference.local + egress allow-list), spawns
 * the child with a scrubbed environment (isolated with bwrap when available), forwards signals,
 * and returns the child's exit code once everything is shut down.
 */
export async function runSupervisor(options: SupervisorOptions): Promise<SupervisorResult> {
  if (options.command.length === 0 || options.command[0] === '') throw new SupervisorError('usage', 'no command given: put it after --, e.g. openshell-supervisor ... -- claude -p "hello"');
  const log = createLogger({ ...(options.logStream !== undefined ? { stream: options.logStream } : {}), level: options.logLevel ?? 'info' });
  let token = options.token;
  if (token === undefined) {
    if (options.tokenFd === undefined) throw new SupervisorError('token_missing', 'no sandbox token: pass --token-fd N with the token written to that inherited descriptor (openshell sandbox run does this)');
    token = await readTokenFromFd(options.tokenFd);
  }
  const scrubbed = scrubTokenFromEnv(process.env, token);
  if (scrubbed.length > 0) log.warn('removed a sandbox token from the supervisor environment; pass it on a descriptor instead', { variables: scrubbed.join(',') });
  const hostEnv = { ...(options.env ?? process.env) };
  scrubTokenFromEnv(hostEnv as NodeJS.ProcessEnv, token);

  const requested = options.isolation ?? 'auto';
  const isolation = await resolveIsolation(requested);
  announceIsolation(log, isolation.mode, requested);

  const gatewayCaPem = options.gatewayCaFile === undefined ? undefined : await readFile(options.gatewayCaFile, 'utf8');
  const sync = createBundleSync({
    gatewayUrl: options.gatewayUrl,
    token,
    log,
    ...(gatewayCaPem !== undefined ? { gatewayCaPem } : {}),
    ...(options.waitSeconds !== undefined ? { waitSeconds: options.waitSeconds } : {}),
    ...(options.startTimeoutMs !== undefined ? { startTimeoutMs: options.startTimeoutMs } : {}),
  });
  const cleanups: Array<() => Promise<unknown>> = [() => sync.close()];
  const cleanup = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  };

  try {
    const { environment, bundle } = await sync.start();
    sync.watch();
    const inferenceRoutes = bundle.routes.map((r) => r.name).join(',') || '(none yet)';
    log.info('connected to the gateway', { sandbox: options.sandbox, revision: bundle.revision, routes: inferenceRoutes, egress: bundle.egress.length });

    const ca = await createSandboxCa();
    const auth = createProxyAuth();
    const ws = await prepareWorkspace({ root: options.workspace ?? defaultWorkspaceRoot(options.sandbox, hostEnv), caCertPem: ca.certPem });
    cleanups.push(() => ws.cleanup());
    // OPENSHELL_PROXY_FAST_PATH=off (host environment): node:http and undici only, without the lean
    // front and the router's h1 transport — a fallback for operators, should the fast path misbehave.
    const fastPath = !/^(off|0|false|no)$/i.test(hostEnv.OPENSHELL_PROXY_FAST_PATH ?? '');
    if (!fastPath) log.info('proxy fast path off (OPENSHELL_PROXY_FAST_PATH): inference requests use node:http and undici');
    const inference = createInferenceService({ sync, log, ...(fastPath ? {} : { forwarder: { transport: 'undici' } }) });
    cleanups.push(() => inference.close());
    const proxy = await createProxyServer({
      auth,
      ca,
      log,
      egress: () => sync.snapshot().egress,
      handleInference: inference.handle,
      ...(fastPath ? { handleInferenceLean: inference.handleLean } : {}),
    });
    cleanups.push(() => proxy.close());

    let proxyUrl: string;
    let sockets: { proxySocket: string; httpSocket: string } | undefined;
    if (isolation.mode === 'bwrap') {
      sockets = await proxy.listenUnix(ws.socketDir);
      proxyUrl = `http://127.0.0.1:${NAMESPACE_PROXY_PORT}`;
    } else {
      const { host, port } = await proxy.listenTcp('127.0.0.1', 0);
      proxyUrl = auth.proxyUrl(host, port);
    }

    // Unprivileged bwrap cannot give the relay ports 80/443 (see relay/netns-relay.mjs): Node
    // children then get the fetch preload inside the namespace too, with undici bound read-only.
    const unprivileged = typeof process.getuid === 'function' && process.getuid() !== 0;
    let nodePreload: string | undefined = isolation.mode === 'none' ? NODE_FETCH_PRELOAD : undefined;
    const roBind: string[] = [];
    if (isolation.mode === 'bwrap' && unprivileged) {
      const undiciEntry = createRequire(import.meta.url).resolve('undici');
      const template = await readFile(NODE_FETCH_PRELOAD, 'utf8');
      nodePreload = join(ws.runDir, 'node-fetch-proxy.mjs');
      await writeFile(nodePreload, template.replace("from 'undici'", `from '${pathToFileURL(undiciEntry).href}'`), { mode: 0o644 });
      roBind.push(dirname(undiciEntry));
      log.info('bwrap runs unprivileged: no transparent inference.local on ports 80/443; Node children get the fetch preload');
    }

    const { env: childEnv, ignored } = buildChildEnvironment({
      hostEnv,
      home: ws.home,
      tmpdir: ws.tmp,
      injectable: environment.environment,
      routes: bundle.routes,
      proxyUrl,
      caCertFile: ws.caCertFile,
      caBundleFile: ws.caBundleFile,
      ...(nodePreload !== undefined ? { nodePreload } : {}),
    });
    if (ignored.length > 0) log.warn('ignored variables that only the supervisor may set', { keys: ignored.join(',') });

    const [file, ...args] = options.command as [string, ...string[]];
    const userHome = hostEnv.HOME ?? homedir();
    const dataHome = hostEnv.XDG_DATA_HOME || join(userHome, '.local', 'share');
    const configHome = hostEnv.XDG_CONFIG_HOME || join(userHome, '.config');
    // Only existing paths can take a tmpfs on the read-only root.
    const hide = [userHome, '/home', '/root', join(dataHome, 'openshell'), join(configHome, 'openshell'), ...(options.hide ?? [])].filter((p) => existsSync(p));
    const bind = [ws.home, ws.tmp, ws.runDir];
    const userBind = (options.bind ?? []).map((p) => resolve(p));
    const userReadOnly = (options.readOnly ?? []).map((p) => resolve(p));
    const requestedCwd = resolve(options.cwd ?? process.cwd());
    const cwd =
      isolation.mode === 'bwrap' && isHiddenPath(requestedCwd, ['/tmp', '/var/tmp', '/run', ...hide], [...bind, ...userBind, ...userReadOnly]) ? ws.home : requestedCwd;
    if (cwd !== requestedCwd) log.info('the working directory is hidden inside the sandbox; starting in the sandbox HOME (make it visible with --bind or --ro-bind)', { cwd: requestedCwd });

    const pipe = options.stdio === 'pipe';
    let child: ChildProcess;
    let control: Writable | undefined;
    if (isolation.mode === 'bwrap' && sockets !== undefined) {
      const hostsFile = join(ws.runDir, 'hosts');
      await writeFile(hostsFile, sandboxHostsFile(), { mode: 0o644 });
      const bwrapArgs = buildBwrapArgs({ hide, bind, roBind, userBind, userReadOnly, hostsFile, relayScript: NETNS_RELAY_SCRIPT, nodeBinary: process.execPath, cwd, command: [file, ...args] });
      child = spawn(isolation.bwrap, bwrapArgs, { env: childEnv, stdio: [pipe ? 'ignore' : 'inherit', pipe ? 'pipe' : 'inherit', pipe ? 'pipe' : 'inherit', 'pipe'] });
      control = child.stdio[3] as Writable;
      control.on('error', () => undefined);
      // The relay's configuration: the nonce travels on this pipe only.
      control.write(`${JSON.stringify({ nonce: auth.revealNonce(), proxySocket: sockets.proxySocket, httpSocket: sockets.httpSocket, proxyPort: NAMESPACE_PROXY_PORT, requireTransparent: !unprivileged })}\n`);
    } else {
      child = spawn(file, args, { env: childEnv, cwd, stdio: [pipe ? 'ignore' : 'inherit', pipe ? 'pipe' : 'inherit', pipe ? 'pipe' : 'inherit'] });
    }
    const out = { text: '' };
    const err = { text: '' };
    if (pipe) {
      collect(child.stdout, out);
      collect(child.stderr, err);
    }

    const deliver = (sig: NodeJS.Signals) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (control !== undefined) control.write(`${sig}\n`);
      else child.kill(sig);
    };
    const stopForwarding = options.forwardSignals === false ? () => undefined : forwardSignals(deliver);
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      deliver('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      killTimer.unref();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });

    const exited = childExit(child, isolation.mode === 'bwrap' ? 'bwrap' : file);
    options.onReady?.({ isolation: isolation.mode, childPid: child.pid, home: ws.home, tmp: ws.tmp, runDir: ws.runDir, caCertFile: ws.caCertFile, childEnv });

    try {
      const { code, signal } = await exited;
      const exitCode = signal !== null ? 128 + (constants.signals[signal] ?? 1) : (code ?? 1);
      log.debug('child exited', { code: exitCode, signal: signal ?? undefined });
      return {
        exitCode,
        ...(signal !== null ? { signal } : {}),
        isolation: isolation.mode,
        ...(pipe ? { stdout: out.text, stderr: err.text } : {}),
      };
    } finally {
      stopForwarding();
      options.signal?.removeEventListener('abort', onAbort);
      if (killTimer !== undefined) clearTimeout(killTimer);
      control?.end();
    }
  } finally {
    await cleanup();
  }
}
