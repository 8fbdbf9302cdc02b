import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { rootCertificates } from 'node:tls';
import { SupervisorError } from './errors.js';

/** The on-host directories of one sandbox and one run of it. */
export interface SandboxWorkspace {
  /** `<data>/openshell/sandboxes/<name>`. */
  readonly root: string;
  /** Persistent sandbox HOME (an agent's own state survives between runs). */
  readonly home: string;
  /** The child's TMPDIR. */
  readonly tmp: string;
  /** This run's private directory (removed at exit): CA files, relay sockets, hosts file. */
  readonly runDir: string;
  /** The sandbox CA certificate alone. */
  readonly caCertFile: string;
  /** System CAs plus the sandbox CA. */
  readonly caBundleFile: string;
  /** Directory of the proxy's Unix sockets (bound into the namespace in bwrap mode). */
  readonly socketDir: string;
  /** Removes this run's directory; HOME and TMPDIR stay. */
  cleanup(): Promise<void>;
}

/** System CA bundles, most common first. */
const SYSTEM_CA_FILES = [
  '/etc/ssl/certs/ca-certificates.crt',
  '/etc/pki/tls/certs/ca-bundle.crt',
  '/etc/ssl/ca-bundle.pem',
  '/etc/ssl/cert.pem',
];

/** Checks that a sandbox name is one safe path segment. */
export function assertSandboxName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(name) || name.includes('..')) {
    throw new SupervisorError('usage', `sandbox name '${name.slice(0, 80)}' is not valid: use letters, digits, '.', '_' and '-' (at most 63)`);
  }
}

/** `${XDG_DATA_HOME:-~/.local/share}/openshell/sandboxes/<name>`. */
export function defaultWorkspaceRoot(sandbox: string, env: Readonly<Record<string, string | undefined>> = process.env): string {
  assertSandboxName(sandbox);
  const data = env.XDG_DATA_HOME !== undefined && env.XDG_DATA_HOME !== '' ? env.XDG_DATA_HOME : join(env.HOME ?? homedir(), '.local', 'share');
  return join(data, 'openshell', 'sandboxes', sandbox);
}

/** The system's CA bundle (PEM), or Node's bundled roots when the system has none we know. */
export async function systemCaBundle(): Promise<string> {
  for (const file of SYSTEM_CA_FILES) {
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text?.includes('BEGIN CERTIFICATE')) return text;
  }
  return rootCertificates.join('\n');
}

/**
 * Creates (or reuses) the sandbox's HOME and TMPDIR and this run's directory, and writes the CA
 * files into it. Only certificates are written: never a key, a token or any other secret.
 */
export async function prepareWorkspace(options: { root: string; caCertPem: string; runId?: string }): Promise<SandboxWorkspace> {
  const root = resolve(options.root);
  const home = join(root, 'home');
  const tmp = join(root, 'tmp');
  const runDir = join(root, 'runs', options.runId ?? `${process.pid}-${randomBytes(4).toString('hex')}`);
  for (const dir of [root, home, tmp, join(root, 'runs'), runDir]) await mkdir(dir, { recursive: true, mode: 0o700 });
  const socketDir = join(runDir, 'sock');
  await mkdir(socketDir, { mode: 0o700 });
  const caCertFile = join(runDir, 'sandbox-ca.pem');
  const caBundleFile = join(runDir, 'ca-bundle.pem');
  await writeFile(caCertFile, options.caCertPem, { mode: 0o644 });
  const system = await systemCaBundle();
  await writeFile(caBundleFile, `${system.trimEnd()}\n${options.caCertPem}`, { mode: 0o644 });
  return {
    root,
    home,
    tmp,
    runDir,
    caCertFile,
    caBundleFile,
    socketDir,
    cleanup: () => rm(runDir, { recursive: true, force: true }),
  };
}
