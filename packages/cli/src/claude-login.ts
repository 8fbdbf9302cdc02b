import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { CliError } from './cli-error.js';
import { type Keychain, lookupKeychain } from './keychain.js';
import { homeDir } from './paths.js';

/** The Claude subscription login read from the host (`claudeAiOauth`). Values are secrets: never print them. */
export interface ClaudeLogin {
  readonly accessToken: string;
  readonly refreshToken: string;
  /** Epoch milliseconds (seconds in the source are normalized). */
  readonly expiresAt: number;
  readonly scopes: readonly string[] | undefined;
  readonly subscriptionType: string | null | undefined;
}

/** Where a login was read from. */
export type LoginSource =
  | { readonly kind: 'keychain'; readonly service: string; readonly account: string }
  | { readonly kind: 'file'; readonly path: string };

/** Human-readable form of a source (no secret in it). */
export function describeSource(source: LoginSource): string {
  return source.kind === 'keychain'
    ? `keychain item '${source.service}' (account '${source.account}')`
    : source.path;
}

const BASE_SERVICE = 'Claude Code-credentials';
const FIX = 'Run `claude` and log in (or `/login` inside Claude Code), then try again.';

/** Claude Code's keychain service name: `Claude Code-credentials`, plus `-<8 hex of sha256(NFC dir)>` when CLAUDE_CONFIG_DIR is set. */
export function claudeKeychainService(configDir: string | undefined): string {
  if (configDir === undefined || configDir === '') return BASE_SERVICE;
  const hash = createHash('sha256').update(configDir.normalize('NFC')).digest('hex').slice(0, 8);
  return `${BASE_SERVICE}-${hash}`;
}

/** Claude Code's keychain account: `$USER`, else the OS login name, else `claude-code-user`. */
export function claudeKeychainAccount(env: Readonly<Record<string, string | undefined>>): string {
  if (env.USER) return env.USER;
  try {
    const name = userInfo().username;
    if (name) return name;
  } catch {
    // no passwd entry (containers): fall through
  }
  return 'claude-code-user';
}

/** Seconds-vs-milliseconds: anything below 1e11 (year 5138 in seconds, 1973 in ms) is taken as seconds. */
export function normalizeEpochMs(value: number): number {
  return value < 1e11 ? Math.round(value * 1000) : Math.round(value);
}

/**
 * Parses a credentials blob. Every problem gets its own line naming the field and `where`, and the fix.
 * Throws `invalid_claude_login` listing them all.
 */
export function parseClaudeLogin(text: string, where: string): ClaudeLogin {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // The parser's message quotes the input, which may hold a token: say only that it is not JSON.
    throw invalid(where, ['is not valid JSON']);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalid(where, ['is not a JSON object']);
  }
  const top = parsed as Record<string, unknown>;
  const oauth = top.claudeAiOauth;
  if (oauth === undefined || oauth === null) {
    if (top.mcpOAuth !== undefined) {
      throw invalid(where, ['holds only MCP server logins (mcpOAuth), not a Claude subscription login (claudeAiOauth)']);
    }
    throw invalid(where, ['has no claudeAiOauth object (no Claude subscription login)']);
  }
  if (typeof oauth !== 'object' || Array.isArray(oauth)) throw invalid(where, ['claudeAiOauth is not an object']);
  const o = oauth as Record<string, unknown>;
  const problems: string[] = [];

  const str = (field: string): string | undefined => {
    const v = o[field];
    if (v === undefined || v === null) problems.push(`claudeAiOauth.${field} is missing`);
    else if (typeof v !== 'string') problems.push(`claudeAiOauth.${field} must be a string`);
    else if (v.trim() === '') problems.push(`claudeAiOauth.${field} is empty`);
    else return v.trim();
    return undefined;
  };
  const accessToken = str('accessToken');
  const refreshToken = str('refreshToken');

  let expiresAt: number | undefined;
  const rawExp = o.expiresAt;
  if (rawExp === undefined || rawExp === null) problems.push('claudeAiOauth.expiresAt is missing');
  else {
    const n = typeof rawExp === 'string' && /^\d+$/.test(rawExp.trim()) ? Number(rawExp) : rawExp;
    if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) {
      problems.push('claudeAiOauth.expiresAt must be a positive epoch time (milliseconds or seconds)');
    } else expiresAt = normalizeEpochMs(n);
  }

  let scopes: string[] | undefined;
  if (o.scopes !== undefined && o.scopes !== null) {
    if (!Array.isArray(o.scopes) || !o.scopes.every((s) => typeof s === 'string')) {
      problems.push('claudeAiOauth.scopes must be a list of strings');
    } else {
      scopes = o.scopes as string[];
      if (!scopes.includes('user:inference')) {
        problems.push('claudeAiOauth.scopes lacks user:inference (this login cannot call the model)');
      }
    }
  }
  let subscriptionType: string | null | undefined;
  if (o.subscriptionType !== undefined) {
    if (o.subscriptionType !== null && typeof o.subscriptionType !== 'string') {
      problems.push('claudeAiOauth.subscriptionType must be a string or null');
    } else subscriptionType = o.subscriptionType;
  }

  if (problems.length > 0 || accessToken === undefined || refreshToken === undefined || expiresAt === undefined) {
    throw invalid(where, problems);
  }
  return { accessToken, refreshToken, expiresAt, scopes, subscriptionType };
}

function invalid(where: string, problems: readonly string[]): CliError {
  const lines = problems.map((p) => `  - ${where}: ${p}`).join('\n');
  return new CliError('invalid_claude_login', `the Claude Code login in ${where} cannot be used:\n${lines}`, { hint: FIX });
}

/** Reading context: environment, keychain, and (for tests) the home directory. */
export interface ClaudeLoginReadOptions {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly keychain: Keychain;
}

/**
 * Bound on a credentials file. Claude Code's is well under 1 KiB; the bound is generous (so a padded
 * file still gets its precise parse error) and only keeps a huge file from exhausting memory.
 */
const MAX_LOGIN_FILE_BYTES = 64 * 1024 * 1024;

function loginFileTooLarge(path: string, bytes: number): CliError {
  return new CliError('claude_login_unreadable', `${path} is too large for a Claude Code login (${bytes} bytes; a login is under 1 KiB, the limit is ${MAX_LOGIN_FILE_BYTES} bytes)`, {
    hint: `Check what ${path} is, or ${FIX}`,
  });
}

/**
 * Reads a credentials file without ever blocking on a FIFO or streaming a device: opened non-blocking,
 * checked with fstat on the same descriptor (no race with a swap), refused unless it is a regular file
 * of at most 64 MiB, and read with that bound. Errno errors (ENOENT, EACCES, EISDIR) propagate.
 */
async function readLoginFile(path: string): Promise<string> {
  const handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const stat = await handle.stat();
    if (stat.isDirectory()) throw Object.assign(new Error(`EISDIR: illegal operation on a directory, read '${path}'`), { code: 'EISDIR' });
    if (!stat.isFile()) {
      throw new CliError('claude_login_unreadable', `${path} is not a regular file (a device, FIFO or socket), so it is not a Claude Code login`, {
        hint: `Remove or replace it, or ${FIX}`,
      });
    }
    if (stat.size > MAX_LOGIN_FILE_BYTES) throw loginFileTooLarge(path, stat.size);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const { bytesRead, buffer } = await handle.read({ buffer: Buffer.alloc(64 * 1024) });
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > MAX_LOGIN_FILE_BYTES) throw loginFileTooLarge(path, total); // it grew after fstat
      chunks.push(buffer.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks, total).toString('utf8');
  } finally {
    await handle.close();
  }
}

/** What `readClaudeLogin` found, plus every place it looked (for the report). */
export interface ClaudeLoginResult {
  readonly login: ClaudeLogin;
  readonly source: LoginSource;
  readonly looked: readonly string[];
}

/**
 * Reads the host's Claude Code login, in Claude Code's own order: the keychain item, then
 * `$CLAUDE_CONFIG_DIR/.credentials.json`, then `~/.claude/.credentials.json`. The first source that exists
 * is parsed (a malformed one is an error, not skipped: silently using an older login would be worse).
 */
export async function readClaudeLogin(options: ClaudeLoginReadOptions): Promise<ClaudeLoginResult> {
  const { env } = options;
  const configDir = env.CLAUDE_CONFIG_DIR?.trim() ? env.CLAUDE_CONFIG_DIR : undefined;
  const service = claudeKeychainService(configDir);
  const account = claudeKeychainAccount(env);
  const looked: string[] = [];

  const item = await lookupKeychain(options.keychain, service, account);
  const keychainSource: LoginSource = { kind: 'keychain', service, account };
  if (item.status === 'found') {
    return { login: parseClaudeLogin(item.value, describeSource(keychainSource)), source: keychainSource, looked: [describeSource(keychainSource)] };
  }
  looked.push(`${describeSource(keychainSource)}: ${item.status === 'absent' ? 'no item' : item.reason}`);

  const files = [
    ...(configDir ? [join(configDir, '.credentials.json')] : []),
    join(homeDir(env), '.claude', '.credentials.json'),
  ];
  for (const path of [...new Set(files)]) {
    let text: string;
    try {
      text = await readLoginFile(path);
    } catch (err) {
      if (CliError.isInstance(err)) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        looked.push(`${path}: not found`);
        continue;
      }
      throw new CliError('claude_login_unreadable', `cannot read the Claude Code login file ${path} (${code ?? 'error'})`, {
        hint: code === 'EACCES' ? `Make the file readable by this user (it should be yours, mode 0600), or ${FIX}` : FIX,
      });
    }
    const source: LoginSource = { kind: 'file', path };
    return { login: parseClaudeLogin(text, path), source, looked: [...looked, path] };
  }
  throw new CliError('claude_login_not_found', `no Claude Code login found. Looked in:\n${looked.map((l) => `  - ${l}`).join('\n')}`, {
    hint: `${FIX} If Claude Code uses another config directory, set CLAUDE_CONFIG_DIR to it.`,
  });
}
