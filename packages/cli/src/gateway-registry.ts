import { chmod, mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Secret } from '@openshell/core';
import { CliError } from './cli-error.js';
import { cliConfigDir, type PathEnv } from './paths.js';

/** A registered gateway (`gateways/<name>.json`). */
export interface GatewayEntry {
  readonly name: string;
  readonly url: string;
  readonly caCertFile?: string;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** Throws a usage-style error unless `name` is a safe single path component. */
export function checkGatewayName(name: string): string {
  if (!NAME_RE.test(name)) {
    throw new CliError('invalid_gateway_name', `invalid gateway name '${name}'`, {
      hint: 'Use letters, digits, dot, dash or underscore (at most 63 characters).',
      exitCode: 2,
    });
  }
  return name;
}

function gatewaysDir(env: PathEnv): string {
  return join(cliConfigDir(env), 'gateways');
}

/** Path of a gateway's admin-token file. */
export function tokenFilePath(env: PathEnv, name: string): string {
  return join(gatewaysDir(env), `${checkGatewayName(name)}.token`);
}

/** Path of a gateway's entry file. */
export function entryFilePath(env: PathEnv, name: string): string {
  return join(gatewaysDir(env), `${checkGatewayName(name)}.json`);
}

function isNotFound(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ENOENT';
}

/** Reads a registered gateway, or undefined when it is not registered. */
export async function readGatewayEntry(env: PathEnv, name: string): Promise<GatewayEntry | undefined> {
  const path = entryFilePath(env, name);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw new CliError('gateway_config_unreadable', `cannot read ${path}: ${(err as Error).message}`, { hint: 'Check its owner and permissions (it should be yours).' });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CliError('gateway_config_invalid', `${path} is not valid JSON`, {
      hint: `Fix or remove the file, then register the gateway again with \`openshell gateway add ${name} --url URL\`.`,
    });
  }
  const o = parsed as Record<string, unknown>;
  if (typeof o !== 'object' || o === null || typeof o.url !== 'string' || o.url === '') {
    throw new CliError('gateway_config_invalid', `${path} has no 'url'`, {
      hint: `Register the gateway again with \`openshell gateway add ${name} --url URL\`.`,
    });
  }
  return {
    name,
    url: o.url,
    ...(typeof o.caCertFile === 'string' && o.caCertFile !== '' ? { caCertFile: o.caCertFile } : {}),
  };
}

/** Reads a gateway's admin token, or undefined when no token file exists. */
export async function readGatewayToken(env: PathEnv, name: string): Promise<Secret | undefined> {
  try {
    const value = (await readFile(tokenFilePath(env, name), 'utf8')).trim();
    return value === '' ? undefined : new Secret(value);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw new CliError('gateway_token_unreadable', `cannot read the admin token of gateway '${name}': ${(err as NodeJS.ErrnoException).code ?? 'error'}`, {
      hint: `Check the permissions of ${tokenFilePath(env, name)}.`,
    });
  }
}

/** Lists registered gateways (sorted by name). */
export async function listGatewayEntries(env: PathEnv): Promise<GatewayEntry[]> {
  let names: string[];
  try {
    names = await readdir(gatewaysDir(env));
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
  const entries: GatewayEntry[] = [];
  for (const file of names.filter((n) => n.endsWith('.json')).sort()) {
    const name = file.slice(0, -'.json'.length);
    if (!NAME_RE.test(name)) continue;
    const entry = await readGatewayEntry(env, name).catch(() => undefined);
    if (entry) entries.push(entry);
  }
  return entries;
}

/** The active gateway's name, if any. */
export async function readActiveGateway(env: PathEnv): Promise<string | undefined> {
  try {
    const name = (await readFile(join(cliConfigDir(env), 'active'), 'utf8')).trim();
    return name === '' ? undefined : name;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

async function writeAtomic(path: string, content: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, content, { mode });
  await chmod(tmp, mode);
  await rename(tmp, path);
}

async function ensureDirs(env: PathEnv): Promise<void> {
  await mkdir(gatewaysDir(env), { recursive: true, mode: 0o700 });
}

/** Writes (or replaces) a gateway entry. */
export async function writeGatewayEntry(env: PathEnv, entry: GatewayEntry): Promise<void> {
  await ensureDirs(env);
  const body = { name: entry.name, url: entry.url, ...(entry.caCertFile ? { caCertFile: entry.caCertFile } : {}) };
  await writeAtomic(entryFilePath(env, entry.name), `${JSON.stringify(body, null, 2)}\n`, 0o600);
}

/** Writes a gateway's admin token, mode 0600. */
export async function writeGatewayToken(env: PathEnv, name: string, token: Secret): Promise<void> {
  await ensureDirs(env);
  await writeAtomic(tokenFilePath(env, name), `${token.reveal()}\n`, 0o600);
}

/** Makes `name` the active gateway. */
export async function writeActiveGateway(env: PathEnv, name: string): Promise<void> {
  await ensureDirs(env);
  await writeAtomic(join(cliConfigDir(env), 'active'), `${checkGatewayName(name)}\n`, 0o600);
}
