import { chmod, mkdir, open, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The CLI config dir: `${XDG_CONFIG_HOME:-~/.config}/openshell`. */
export function defaultConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME !== '' ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, 'openshell');
}

/** The gateway data dir: `${XDG_DATA_HOME:-~/.local/share}/openshell/gateway`. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_DATA_HOME && env.XDG_DATA_HOME !== '' ? env.XDG_DATA_HOME : join(homedir(), '.local', 'share');
  return join(base, 'openshell', 'gateway');
}

/** Paths of one gateway's entries in the CLI config dir. */
export function gatewayConfigPaths(configDir: string, name: string): { dir: string; token: string; json: string; active: string } {
  const dir = join(configDir, 'gateways');
  return { dir, token: join(dir, `${name}.token`), json: join(dir, `${name}.json`), active: join(configDir, 'active') };
}

/** Writes `content` to `path` with mode 0600, atomically (temp file + rename). */
export async function writePrivateFile(path: string, content: string): Promise<void> {
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(content, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}

/** Writes the admin token file (`gateways/<name>.token`, 0600, one line). */
export async function writeAdminTokenFile(configDir: string, name: string, token: string): Promise<string> {
  const paths = gatewayConfigPaths(configDir, name);
  await mkdir(paths.dir, { recursive: true, mode: 0o700 });
  await writePrivateFile(paths.token, `${token}\n`);
  return paths.token;
}

/**
 * Records where this gateway listens (`gateways/<name>.json`) and makes it the active gateway when
 * none is active yet.
 */
export async function writeGatewayEntry(configDir: string, name: string, url: string, caCertFile?: string): Promise<void> {
  const paths = gatewayConfigPaths(configDir, name);
  await mkdir(paths.dir, { recursive: true, mode: 0o700 });
  const entry: { name: string; url: string; caCertFile?: string } = { name, url };
  if (caCertFile !== undefined) entry.caCertFile = caCertFile;
  await writePrivateFile(paths.json, `${JSON.stringify(entry, null, 2)}\n`);
  let active = '';
  try {
    active = (await readFile(paths.active, 'utf8')).trim();
  } catch {
    active = '';
  }
  if (active === '') await writeFile(paths.active, `${name}\n`, { mode: 0o600 });
}
