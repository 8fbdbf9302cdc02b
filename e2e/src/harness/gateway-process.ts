import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FakeTokenEndpoint } from '@openshell/testing';
import type { Machine } from './machine.js';
import { CLI_BIN, REPO_ROOT } from './paths.js';

/** A gateway started with the real `openshell gateway start` (foreground) as a child process. */
export interface GatewayProcess {
  readonly url: string;
  /** Everything the gateway process wrote (JSON log lines on stderr, the ready line). */
  output(): string;
  /** The admin token the gateway wrote for the CLI (0600 file in the CLI config dir). */
  adminToken(): Promise<string>;
  /** SIGTERM, then SIGKILL after 15 s; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Writes a `--profiles-dir` with the built-in anthropic-oauth profile whose token and authorize URLs
 * point at the fake (a loopback http token URL is allowed by the profile rules).
 */
export async function writeFakeProfilesDir(dir: string, tokens: Pick<FakeTokenEndpoint, 'tokenUrl' | 'authorizeUrl'>): Promise<string> {
  const builtin = await readFile(join(REPO_ROOT, 'providers', 'anthropic-oauth.yaml'), 'utf8');
  const tokenUrls = /token_urls:\n(?:\s+- .*\n)+/;
  if (!tokenUrls.test(builtin) || !/authorize_url: .*/.test(builtin)) {
    throw new Error('providers/anthropic-oauth.yaml: token_urls or authorize_url not found; update the e2e profile override');
  }
  const text = builtin
    .replace(tokenUrls, `token_urls:\n        - ${tokens.tokenUrl}\n`)
    .replace(/authorize_url: .*/, `authorize_url: ${tokens.authorizeUrl}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'anthropic-oauth.yaml'), text);
  return dir;
}

/** Starts `openshell gateway start --listen 127.0.0.1:0 --data-dir … --profiles-dir …` and waits for /readyz. */
export async function startGatewayProcess(machine: Machine, options: { profilesDir: string; logLevel?: string }): Promise<GatewayProcess> {
  const args = [
    CLI_BIN, 'gateway', 'start',
    '--listen', '127.0.0.1:0',
    '--data-dir', machine.gatewayDataDir,
    '--profiles-dir', options.profilesDir,
    '--log-level', options.logLevel ?? 'debug',
  ];
  const child: ChildProcess = spawn(process.execPath, args, { env: machine.env, cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (c: string) => {
    out += c;
  });
  child.stderr?.setEncoding('utf8').on('data', (c: string) => {
    out += c;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let url: string | undefined;
  const deadline = Date.now() + 60_000;
  while (url === undefined && Date.now() < deadline) {
    url = /listening on (https?:\/\/[^\s)]+)/.exec(out)?.[1];
    if (child.exitCode !== null) throw new Error(`openshell gateway start exited with ${child.exitCode}:\n${out}`);
    if (url === undefined) await new Promise((r) => setTimeout(r, 50));
  }
  if (url === undefined) {
    child.kill('SIGKILL');
    throw new Error(`openshell gateway start printed no URL in 60 s:\n${out}`);
  }
  for (let i = 0; i < 200; i++) {
    const ready = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
    if (ready) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const readyUrl = url;
  return {
    url: readyUrl,
    output: () => out,
    adminToken: async () => (await readFile(join(machine.cliConfigDir, 'gateways', 'local.token'), 'utf8')).trim(),
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
