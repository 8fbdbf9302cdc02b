import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { claudeCredentialsJson, writeClaudeCredentials } from '@openshell/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  claudeKeychainAccount,
  claudeKeychainService,
  normalizeEpochMs,
  parseClaudeLogin,
  readClaudeLogin,
} from './claude-login.js';
import { CliError } from './cli-error.js';
import type { Keychain } from './keychain.js';

const ACCESS = 'sk-ant-oat01-unit-access-AAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const REFRESH = 'sk-ant-ort01-unit-refresh-BBBBBBBBBBBBBBBBBBBBBBBBBBB';
const EXPIRES_MS = 1_900_000_000_000;
const LOGIN = { accessToken: ACCESS, refreshToken: REFRESH, expiresAt: EXPIRES_MS };

function parseError(text: string, where = '/x/.credentials.json'): CliError {
  try {
    parseClaudeLogin(text, where);
  } catch (err) {
    if (CliError.isInstance(err)) return err;
    throw err;
  }
  throw new Error('expected parseClaudeLogin to throw');
}

/** In-memory stand-in for the OS keychain (the real one is exercised in the keyctl integration test). */
function memoryKeychain(items: Record<string, string> = {}, fail?: Error): Keychain & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async getPassword(service, account) {
      asked.push(`${service}|${account}`);
      if (fail) throw fail;
      return items[`${service}|${account}`] ?? null;
    },
  };
}

describe('keychain naming', () => {
  it('uses the bare service name without CLAUDE_CONFIG_DIR', () => {
    expect(claudeKeychainService(undefined)).toBe('Claude Code-credentials');
    expect(claudeKeychainService('')).toBe('Claude Code-credentials');
  });

  it('appends the first 8 hex of sha256 of the NFC config dir', () => {
    const dir = '/home/u/.claude-work';
    const expected = createHash('sha256').update(dir).digest('hex').slice(0, 8);
    expect(claudeKeychainService(dir)).toBe(`Claude Code-credentials-${expected}`);
    // NFD and NFC spellings of the same path select the same item
    const nfd = '/home/u/cafe\u0301';
    const nfc = '/home/u/caf\u00e9';
    expect(claudeKeychainService(nfd)).toBe(claudeKeychainService(nfc));
    expect(claudeKeychainService(nfc)).toMatch(/^Claude Code-credentials-[0-9a-f]{8}$/);
  });

  it('takes the account from USER first', () => {
    expect(claudeKeychainAccount({ USER: 'alice' })).toBe('alice');
    expect(claudeKeychainAccount({}).length).toBeGreaterThan(0);
  });
});

describe('parseClaudeLogin', () => {
  it('reads the five fields of claudeAiOauth', () => {
    const login = parseClaudeLogin(claudeCredentialsJson(LOGIN, { subscriptionType: 'pro' }), 'f');
    expect(login).toEqual({
      accessToken: ACCESS,
      refreshToken: REFRESH,
      expiresAt: EXPIRES_MS,
      scopes: ['user:inference', 'user:profile', 'user:sessions:claude_code'],
      subscriptionType: 'pro',
    });
  });

  it('normalizes an expiresAt in seconds to milliseconds', () => {
    const login = parseClaudeLogin(claudeCredentialsJson(LOGIN, { expiresAtUnit: 's' }), 'f');
    expect(login.expiresAt).toBe(EXPIRES_MS);
    expect(normalizeEpochMs(1_900_000_000)).toBe(1_900_000_000_000);
    expect(normalizeEpochMs(1_900_000_000_123)).toBe(1_900_000_000_123);
  });

  it('keeps a login with a sibling mcpOAuth entry', () => {
    expect(parseClaudeLogin(claudeCredentialsJson(LOGIN, { withMcpOAuth: true }), 'f').accessToken).toBe(ACCESS);
  });

  it('accepts an already expired access token (a refresh token is present)', () => {
    expect(parseClaudeLogin(claudeCredentialsJson({ ...LOGIN, expiresAt: 1_000_000_000_000 }), 'f').expiresAt).toBe(1_000_000_000_000);
  });

  for (const field of ['accessToken', 'refreshToken', 'expiresAt'] as const) {
    it(`names the missing ${field}, the file, and the fix`, () => {
      const err = parseError(claudeCredentialsJson(LOGIN, { omit: [field] }));
      expect(err.code).toBe('invalid_claude_login');
      expect(err.message).toContain(`/x/.credentials.json: claudeAiOauth.${field} is missing`);
      expect(err.hint).toContain('Run `claude` and log in');
      // one line per problem: exactly one problem here
      expect(err.message.split('\n').filter((l) => l.startsWith('  - '))).toHaveLength(1);
    });
  }

  it('gives every malformed field its own line', () => {
    const err = parseError(JSON.stringify({ claudeAiOauth: { accessToken: 5, refreshToken: '', expiresAt: 'soon', scopes: 'x', subscriptionType: 3 } }));
    const lines = err.message.split('\n').filter((l) => l.startsWith('  - '));
    expect(lines).toEqual([
      '  - /x/.credentials.json: claudeAiOauth.accessToken must be a string',
      '  - /x/.credentials.json: claudeAiOauth.refreshToken is empty',
      '  - /x/.credentials.json: claudeAiOauth.expiresAt must be a positive epoch time (milliseconds or seconds)',
      '  - /x/.credentials.json: claudeAiOauth.scopes must be a list of strings',
      '  - /x/.credentials.json: claudeAiOauth.subscriptionType must be a string or null',
    ]);
  });

  it('refuses a login whose scopes lack user:inference', () => {
    const err = parseError(claudeCredentialsJson({ ...LOGIN, scopes: ['user:profile'] }));
    expect(err.message).toContain('claudeAiOauth.scopes lacks user:inference');
  });

  it('says an mcpOAuth-only blob is not a login', () => {
    const err = parseError(claudeCredentialsJson(LOGIN, { mcpOnly: true }));
    expect(err.message).toContain('holds only MCP server logins (mcpOAuth)');
    expect(err.hint).toContain('log in');
  });

  it('says when the file is not JSON, without quoting its content', () => {
    const err = parseError(`{"claudeAiOauth": {"accessToken": "${ACCESS}", oops`);
    expect(err.message).toContain('/x/.credentials.json: is not valid JSON');
    expect(err.message).not.toContain(ACCESS);
    expect(err.message).not.toContain('sk-ant');
  });

  it('never puts a token value in any message', () => {
    const err = parseError(JSON.stringify({ claudeAiOauth: { accessToken: ACCESS, refreshToken: REFRESH, expiresAt: -1 } }));
    expect(err.message).not.toContain(ACCESS);
    expect(err.message).not.toContain(REFRESH);
  });
});

describe('readClaudeLogin', () => {
  let home: string;
  beforeEach(async () => {
    home = await mkdtemp(join(tmpdir(), 'cli-login-'));
  });
  afterEach(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('prefers the keychain item under the exact service and account', async () => {
    const configDir = join(home, 'cfg');
    await writeClaudeCredentials(configDir, { ...LOGIN, accessToken: 'sk-ant-oat01-file-token-xxxxxxxx' });
    const service = claudeKeychainService(configDir);
    const keychain = memoryKeychain({ [`${service}|bob`]: claudeCredentialsJson(LOGIN) });
    const found = await readClaudeLogin({ env: { HOME: home, USER: 'bob', CLAUDE_CONFIG_DIR: configDir }, keychain });
    expect(found.source).toEqual({ kind: 'keychain', service, account: 'bob' });
    expect(found.login.accessToken).toBe(ACCESS);
    expect(keychain.asked).toEqual([`${service}|bob`]);
  });

  it('treats an access-denied keychain as no item and falls back to $CLAUDE_CONFIG_DIR', async () => {
    const configDir = join(home, 'cfg');
    const path = await writeClaudeCredentials(configDir, LOGIN);
    const keychain = memoryKeychain({}, new Error("Couldn't access platform storage: AccessDenied"));
    const found = await readClaudeLogin({ env: { HOME: home, USER: 'bob', CLAUDE_CONFIG_DIR: configDir }, keychain });
    expect(found.source).toEqual({ kind: 'file', path });
    expect(found.looked[0]).toContain('access denied');
  });

  it('falls back to ~/.claude/.credentials.json when CLAUDE_CONFIG_DIR has none', async () => {
    const path = await writeClaudeCredentials(join(home, '.claude'), LOGIN);
    const found = await readClaudeLogin({ env: { HOME: home, USER: 'bob', CLAUDE_CONFIG_DIR: join(home, 'empty') }, keychain: memoryKeychain() });
    expect(found.source).toEqual({ kind: 'file', path });
    expect(found.looked).toContain(`${join(home, 'empty', '.credentials.json')}: not found`);
  });

  it('lists every place it looked when there is no login', async () => {
    const err = await readClaudeLogin({ env: { HOME: home, USER: 'bob' }, keychain: memoryKeychain() }).catch((e: unknown) => e);
    expect(CliError.isInstance(err) && err.code).toBe('claude_login_not_found');
    const message = (err as Error).message;
    expect(message).toContain("keychain item 'Claude Code-credentials' (account 'bob'): no item");
    expect(message).toContain(`${join(home, '.claude', '.credentials.json')}: not found`);
  });

  it('reports an unreadable credentials file with its path instead of skipping it', async () => {
    // A directory where the file should be: unreadable as a file even for root.
    await mkdir(join(home, '.claude', '.credentials.json'), { recursive: true });
    const err = await readClaudeLogin({ env: { HOME: home, USER: 'bob' }, keychain: memoryKeychain() }).catch((e: unknown) => e);
    expect(CliError.isInstance(err) && err.code).toBe('claude_login_unreadable');
    expect((err as Error).message).toContain(join(home, '.claude', '.credentials.json'));
    expect((err as Error).message).toContain('EISDIR');
  });

  it('refuses a FIFO in place of the file at once, instead of waiting for a writer', async () => {
    await mkdir(join(home, '.claude'), { recursive: true });
    execFileSync('mkfifo', [join(home, '.claude', '.credentials.json')]);
    const outcome = await Promise.race([
      readClaudeLogin({ env: { HOME: home, USER: 'bob' }, keychain: memoryKeychain() }).catch((e: unknown) => e),
      new Promise((resolve) => setTimeout(() => resolve('still waiting after 3 s'), 3_000)),
    ]);
    expect(CliError.isInstance(outcome) && outcome.code).toBe('claude_login_unreadable');
    expect((outcome as Error).message).toContain(`${join(home, '.claude', '.credentials.json')} is not a regular file`);
  });

  it('refuses a device in place of the file (a symlink to /dev/zero) without reading it', async () => {
    await mkdir(join(home, '.claude'), { recursive: true });
    await symlink('/dev/zero', join(home, '.claude', '.credentials.json'));
    const err = await readClaudeLogin({ env: { HOME: home, USER: 'bob' }, keychain: memoryKeychain() }).catch((e: unknown) => e);
    expect(CliError.isInstance(err) && err.code).toBe('claude_login_unreadable');
    expect((err as Error).message).toMatch(/is not a regular file/);
  });

  it('refuses a file far larger than any login, naming its size', async () => {
    await mkdir(join(home, '.claude'), { recursive: true });
    await writeFile(join(home, '.claude', '.credentials.json'), '');
    await truncate(join(home, '.claude', '.credentials.json'), 100 * 1024 * 1024); // sparse: no disk used
    const err = await readClaudeLogin({ env: { HOME: home, USER: 'bob' }, keychain: memoryKeychain() }).catch((e: unknown) => e);
    expect(CliError.isInstance(err) && err.code).toBe('claude_login_unreadable');
    expect((err as Error).message).toMatch(/is too large for a Claude Code login \(104857600 bytes/);
  });

  it('does not skip a malformed file in favour of an older one', async () => {
    const configDir = join(home, 'cfg');
    await mkdir(configDir, { recursive: true });
    await writeFile(join(configDir, '.credentials.json'), '{not json');
    await writeClaudeCredentials(join(home, '.claude'), LOGIN);
    const err = await readClaudeLogin({ env: { HOME: home, USER: 'bob', CLAUDE_CONFIG_DIR: configDir }, keychain: memoryKeychain() }).catch((e: unknown) => e);
    expect((err as Error).message).toContain(`${join(configDir, '.credentials.json')}: is not valid JSON`);
  });
});
