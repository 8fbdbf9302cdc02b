import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { delimiter, join, resolve, sep } from 'node:path';
import { SupervisorError } from './errors.js';

/** Isolation modes: `bwrap` (Linux namespaces), `none`, or `auto` (bwrap when it works here). */
export type IsolationMode = 'auto' | 'none' | 'bwrap';

/** Where things live inside the namespace. */
export const NAMESPACE_RUN_DIR = '/run/openshell';
/** The Node binary, bound read-only inside the namespace. */
export const NAMESPACE_NODE = `${NAMESPACE_RUN_DIR}/node`;
/** The relay script inside the namespace (loopback :80/:443/proxy port → the supervisor's sockets). */
export const NAMESPACE_RELAY = `${NAMESPACE_RUN_DIR}/netns-relay.mjs`;
/** The relay's proxy port inside the namespace (HTTP(S)_PROXY there). */
export const NAMESPACE_PROXY_PORT = 3128;

/** Finds `bwrap` on PATH. */
export async function findBwrap(pathEnv: string | undefined = process.env.PATH): Promise<string | undefined> {
  for (const dir of (pathEnv ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'bwrap');
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/** Runs a trivial command under bwrap with the namespaces we need; returns the error text or undefined. */
export function probeBwrap(bwrap: string): Promise<string | undefined> {
  return new Promise((done) => {
    execFile(
      bwrap,
      ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--unshare-pid', '--unshare-net', '--die-with-parent', '--', 'true'],
      { timeout: 10_000 },
      (err, _stdout, stderr) => done(err === null ? undefined : (stderr.trim() || err.message).split('\n')[0]),
    );
  });
}

/** The isolation the supervisor will use, or a `isolation_unavailable` error that says how to fix it. */
export async function resolveIsolation(mode: IsolationMode, platform: NodeJS.Platform = process.platform): Promise<{ mode: 'none' } | { mode: 'bwrap'; bwrap: string }> {
  if (mode === 'none') return { mode: 'none' };
  if (platform !== 'linux') {
    if (mode === 'bwrap') throw new SupervisorError('isolation_unavailable', `--isolation bwrap needs Linux (this is ${platform}); run with --isolation none, which does not isolate the filesystem or network`);
    return { mode: 'none' };
  }
  const bwrap = await findBwrap();
  if (bwrap === undefined) {
    if (mode === 'bwrap') {
      throw new SupervisorError(
        'isolation_unavailable',
        '--isolation bwrap was asked for but `bwrap` is not on PATH; install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) or run with --isolation none, which does not isolate the filesystem or network',
      );
    }
    return { mode: 'none' };
  }
  const problem = await probeBwrap(bwrap);
  if (problem !== undefined) {
    if (mode === 'bwrap') {
      throw new SupervisorError(
        'isolation_unavailable',
        `bwrap cannot create the namespaces the sandbox needs here (${problem}); allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1 or the AppArmor bwrap profile) or run with --isolation none`,
      );
    }
    return { mode: 'none' };
  }
  return { mode: 'bwrap', bwrap };
}

/** Inputs of {@link buildBwrapArgs}. */
export interface BwrapLayout {
  /** Host paths hidden under an empty tmpfs (host home, gateway data and config, /tmp, ...). */
  readonly hide: readonly string[];
  /** Host paths bound read-write at the same path inside (sandbox HOME, TMPDIR, run dir). */
  readonly bind: readonly string[];
  /** Host paths bound read-only at the same path inside (e.g. undici for the fetch preload). */
  readonly roBind?: readonly string[];
  /**
   * Directories the user asked to see (`--bind` read-write, `--ro-bind` read-only). Applied before the
   * sandbox's own binds, and any hidden path beneath them is hidden again: binding a parent never
   * re-exposes the host home, the gateway's data or its config.
   */
  readonly userBind?: readonly string[];
  readonly userReadOnly?: readonly string[];
  /** Generated hosts file that maps inference.local to 127.0.0.1. */
  readonly hostsFile: string;
  /** The relay script and the node binary, bound read-only under /run/openshell. */
  readonly relayScript: string;
  readonly nodeBinary: string;
  /** Working directory inside. */
  readonly cwd: string;
  /** The child command. */
  readonly command: readonly string[];
}

function isUnder(path: string, parent: string): boolean {
  return path === parent || path.startsWith(parent.endsWith(sep) ? parent : parent + sep);
}

/** Drops paths that sit under another one in the list (a tmpfs over the parent already hides them). */
export function outermostPaths(paths: readonly string[]): string[] {
  const sorted = [...new Set(paths.map((p) => resolve(p)))].sort((a, b) => a.length - b.length);
  const out: string[] = [];
  for (const p of sorted) if (!out.some((o) => isUnder(p, o))) out.push(p);
  return out;
}

/**
 * The bubblewrap command line (pure): read-only root, fresh /dev and /proc, tmpfs over /tmp, /run
 * and every hidden path, the sandbox's own directories bound back, a private hosts file, new pid,
 * network and IPC namespaces, and the relay as the namespace's first process running the child.
 */
export function buildBwrapArgs(layout: BwrapLayout): string[] {
  const args = ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc'];
  for (const path of outermostPaths(['/tmp', '/var/tmp', '/run', ...layout.hide])) args.push('--tmpfs', path);
  const userBind = [...new Set((layout.userBind ?? []).map((p) => resolve(p)))];
  const userReadOnly = [...new Set((layout.userReadOnly ?? []).map((p) => resolve(p)))];
  for (const path of userBind) args.push('--bind', path, path);
  for (const path of userReadOnly) args.push('--ro-bind', path, path);
  const exposed = [...userBind, ...userReadOnly];
  for (const path of outermostPaths(layout.hide)) {
    if (exposed.some((e) => isUnder(resolve(path), e))) args.push('--tmpfs', resolve(path));
  }
  for (const path of [...new Set(layout.bind.map((p) => resolve(p)))]) args.push('--bind', path, path);
  for (const path of [...new Set((layout.roBind ?? []).map((p) => resolve(p)))]) args.push('--ro-bind', path, path);
  args.push(
    '--ro-bind', layout.hostsFile, '/etc/hosts',
    '--ro-bind', layout.relayScript, NAMESPACE_RELAY,
    '--ro-bind', layout.nodeBinary, NAMESPACE_NODE,
    '--unshare-pid', '--unshare-net', '--unshare-ipc', '--unshare-uts', '--hostname', 'sandbox',
    '--die-with-parent',
    '--chdir', layout.cwd,
    '--', NAMESPACE_NODE, NAMESPACE_RELAY, '--', ...layout.command,
  );
  return args;
}

/** The namespace's /etc/hosts: loopback names plus inference.local on 127.0.0.1. */
export function sandboxHostsFile(): string {
  return ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', '127.0.0.1\tinference.local', '127.0.1.1\tsandbox', ''].join('\n');
}

/** True when `path` is hidden by one of `hidden` and not bound back by one of `bound`. */
export function isHiddenPath(path: string, hidden: readonly string[], bound: readonly string[]): boolean {
  const p = resolve(path);
  return hidden.some((h) => isUnder(p, resolve(h))) && !bound.some((b) => isUnder(p, resolve(b)));
}
