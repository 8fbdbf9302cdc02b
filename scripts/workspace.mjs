// Shared by `npm start` and `npm test`: make a fresh clone usable with nothing but Node and npm.
// Finds pnpm (or runs the pinned one through npx), installs the workspace when needed, and builds it.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const PNPM_VERSION = '10.34.9';

function pnpmCommand() {
  const probe = spawnSync('pnpm', ['--version'], { encoding: 'utf8' });
  if (probe.status === 0 && probe.stdout.trim() === PNPM_VERSION) return ['pnpm'];
  return ['npx', '--yes', `pnpm@${PNPM_VERSION}`];
}

const PNPM = pnpmCommand();

/** Runs pnpm with args in the workspace root; exits the process on failure. */
export function pnpm(args, options = {}) {
  const [cmd, ...pre] = PNPM;
  const env = { ...process.env, TURBO_TELEMETRY_DISABLED: '1', npm_config_nodedir: process.env.npm_config_nodedir ?? '/usr' };
  const r = spawnSync(cmd, [...pre, ...args], { cwd: root, stdio: 'inherit', env, ...options });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

/** Installs dependencies when node_modules is missing or older than the lockfile, then builds every package. */
export function prepareWorkspace({ quiet = false } = {}) {
  const marker = join(root, 'node_modules', '.modules.yaml');
  const lock = join(root, 'pnpm-lock.yaml');
  if (!existsSync(marker) || statSync(lock).mtimeMs > statSync(marker).mtimeMs) {
    if (!quiet) process.stderr.write('openshell: installing workspace dependencies (first run compiles better-sqlite3, about 2 minutes)...\n');
    pnpm(['install', '--frozen-lockfile', '--reporter=append-only']);
  }
  if (!quiet) process.stderr.write('openshell: building packages...\n');
  pnpm(['exec', 'turbo', 'run', 'build', '--output-logs=errors-only']);
}
