// Hostile Claude Code credential files (DESIGN §9 invariant 5): truncated, huge, wrong types, BOM,
// symlinks elsewhere, unreadable. Unit level through readClaudeLogin (every case: a clear error naming
// the problem and the file, never a token), and end to end through the real `openshell provider
// create --from-claude-login` against a real gateway: exit 1, a clear message, and nothing created
// (no provider, no refresh state, no request to the token endpoint).
import { chmod, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { canaryScan, claudeCredentialsJson, type FakeLogin } from '@openshell/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readClaudeLogin } from './claude-login.js';
import type { Keychain } from './keychain.js';
import {
  createTestHome,
  type Fakes,
  runCli,
  startFakes,
  startTestGateway,
  type TestGateway,
  type TestHome,
} from './testing-fixtures/harness.js';

const ACCESS = 'sk-ant-oat01-hostile-file-access-0123456789';
const REFRESH = 'sk-ant-ort01-hostile-file-refresh-0123456789';
const noKeychain: Keychain = { getPassword: async () => null };

let home: TestHome;
let fakes: Fakes;
let gw: TestGateway;
let n = 0;

function goodJson(extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    claudeAiOauth: {
      accessToken: ACCESS,
      refreshToken: REFRESH,
      expiresAt: Date.now() + 3_600_000,
      scopes: ['user:inference', 'user:profile'],
      subscriptionType: 'max',
      ...extra,
    },
  });
}

/** Cases: what is written at `.credentials.json`, and what the error must say. */
const CASES: ReadonlyArray<{ name: string; write: (path: string) => Promise<void>; says: RegExp; code: string }> = [
  { name: 'truncated JSON', write: (p) => writeFile(p, goodJson().slice(0, 40)), says: /not valid JSON/, code: 'invalid_claude_login' },
  { name: 'empty file', write: (p) => writeFile(p, ''), says: /not valid JSON/, code: 'invalid_claude_login' },
  { name: 'top-level array', write: (p) => writeFile(p, `[${goodJson()}]`), says: /not a JSON object/, code: 'invalid_claude_login' },
  { name: 'JSON null', write: (p) => writeFile(p, 'null'), says: /not a JSON object/, code: 'invalid_claude_login' },
  { name: 'claudeAiOauth is a string', write: (p) => writeFile(p, JSON.stringify({ claudeAiOauth: ACCESS })), says: /claudeAiOauth is not an object/, code: 'invalid_claude_login' },
  { name: 'accessToken is a number', write: (p) => writeFile(p, goodJson({ accessToken: 12345 })), says: /accessToken must be a string/, code: 'invalid_claude_login' },
  { name: 'refreshToken is an object', write: (p) => writeFile(p, goodJson({ refreshToken: { value: REFRESH } })), says: /refreshToken must be a string/, code: 'invalid_claude_login' },
  { name: 'expiresAt is a date string', write: (p) => writeFile(p, goodJson({ expiresAt: '2026-11-29T00:00:00Z' })), says: /expiresAt must be a positive epoch/, code: 'invalid_claude_login' },
  { name: 'expiresAt negative', write: (p) => writeFile(p, goodJson({ expiresAt: -5 })), says: /expiresAt must be a positive epoch/, code: 'invalid_claude_login' },
  { name: 'scopes is a string', write: (p) => writeFile(p, goodJson({ scopes: 'user:inference' })), says: /scopes must be a list of strings/, code: 'invalid_claude_login' },
  { name: 'scopes without user:inference', write: (p) => writeFile(p, goodJson({ scopes: ['user:profile'] })), says: /lacks user:inference/, code: 'invalid_claude_login' },
  { name: 'only MCP logins', write: (p) => writeFile(p, JSON.stringify({ mcpOAuth: { x: { accessToken: ACCESS } } })), says: /MCP/, code: 'invalid_claude_login' },
  {
    name: 'huge file (24 MiB of padding around a valid login)',
    write: (p) => writeFile(p, `{"pad":"${'x'.repeat(24 * 1024 * 1024)}",${goodJson().slice(1, -1)},"claudeAiOauth":7}`),
    says: /claudeAiOauth is not an object/,
    code: 'invalid_claude_login',
  },
  { name: 'huge non-JSON file (16 MiB)', write: (p) => writeFile(p, Buffer.alloc(16 * 1024 * 1024, 0x41)), says: /not valid JSON/, code: 'invalid_claude_login' },
  { name: 'binary garbage', write: (p) => writeFile(p, Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x00, 0x22])), says: /not valid JSON/, code: 'invalid_claude_login' },
  {
    name: 'symlink to a directory',
    write: async (p) => {
      const d = `${p}.dir`;
      await mkdir(d, { recursive: true });
      await symlink(d, p);
    },
    says: /cannot read the Claude Code login file .*\.credentials\.json \(EISDIR\)/,
    code: 'claude_login_unreadable',
  },
  {
    name: 'symlink loop',
    write: async (p) => {
      await symlink(`${p}.b`, p);
      await symlink(p, `${p}.b`);
    },
    says: /cannot read the Claude Code login file .*\(ELOOP\)/,
    code: 'claude_login_unreadable',
  },
  {
    name: 'symlink to an unrelated file elsewhere (/etc/hostname)',
    write: (p) => symlink('/etc/hostname', p),
    says: /not valid JSON/,
    code: 'invalid_claude_login',
  },
  {
    name: 'a directory in place of the file (unreadable)',
    write: (p) => mkdir(p, { recursive: true }),
    says: /\(EISDIR\)/,
    code: 'claude_login_unreadable',
  },
];

beforeAll(async () => {
  home = await createTestHome();
  fakes = await startFakes();
  gw = await startTestGateway(home, fakes);
});

afterAll(async () => {
  await gw?.close();
  await fakes?.close();
  await home?.cleanup();
});

async function freshDir(): Promise<string> {
  n++;
  const dir = join(home.root, `hostile-claude-${n}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

describe('hostile credential files: clear errors, never a token in the message', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const dir = await freshDir();
      const file = join(dir, '.credentials.json');
      await c.write(file);
      const err = await readClaudeLogin({ env: { HOME: join(dir, 'nohome'), CLAUDE_CONFIG_DIR: dir }, keychain: noKeychain }).then(
        () => undefined,
        (e: unknown) => e as { code: string; message: string; hint?: string },
      );
      expect(err, 'a hostile file must not yield a login').toBeDefined();
      expect(err?.code).toBe(c.code);
      expect(err?.message).toMatch(c.says);
      expect(err?.message).toContain(dir);
      expect(`${err?.message} ${err?.hint ?? ''}`).not.toContain(ACCESS);
      expect(`${err?.message} ${err?.hint ?? ''}`).not.toContain(REFRESH);
      expect((err?.message.length ?? 0) < 2000, 'the message stays short even for a huge file').toBe(true);
      await rm(dir, { recursive: true, force: true });
    });
  }

  it('a file made unreadable by mode 000 is reported as unreadable, not skipped (when not root)', async () => {
    const dir = await freshDir();
    const file = join(dir, '.credentials.json');
    await writeFile(file, goodJson());
    await chmod(file, 0o000);
    const result = await readClaudeLogin({ env: { HOME: join(dir, 'nohome'), CLAUDE_CONFIG_DIR: dir }, keychain: noKeychain }).then(
      (r) => ({ ok: true as const, r }),
      (e: { code: string; message: string }) => ({ ok: false as const, e }),
    );
    if (process.getuid?.() === 0) {
      // root reads any file: the login is read as usual (the mode cannot stop it).
      expect(result.ok).toBe(true);
    } else {
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.e.code).toBe('claude_login_unreadable');
        expect(result.e.message).toContain('EACCES');
      }
    }
  });
});

describe('hostile credential files through `openshell provider create --from-claude-login`: nothing created', () => {
  const endToEnd = CASES.filter((c) => ['truncated JSON', 'accessToken is a number', 'symlink loop', 'scopes without user:inference', 'huge non-JSON file (16 MiB)'].includes(c.name));
  for (const c of endToEnd) {
    it(c.name, async () => {
      const dir = await freshDir();
      await c.write(join(dir, '.credentials.json'));
      const name = `hostile-${n}`;
      const tokenCalls = fakes.tokens.calls.length;
      const apiCalls = fakes.api.requestCount;
      const run = await runCli(['provider', 'create', '--name', name, '--type', 'anthropic-oauth', '--from-claude-login'], {
        env: { ...home.env, CLAUDE_CONFIG_DIR: dir },
        timeoutMs: 60_000,
      });
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).toMatch(c.says);
      expect(await gw.gateway.store.getProvider(name)).toBeUndefined();
      expect(await gw.gateway.store.listRefreshStates(name)).toEqual([]);
      expect(fakes.tokens.calls.length).toBe(tokenCalls);
      expect(fakes.api.requestCount).toBe(apiCalls);
      expect(await canaryScan([{ label: 'stdout', content: run.stdout }, { label: 'stderr', content: run.stderr }, { label: 'gateway log', content: gw.logs() }], [ACCESS, REFRESH])).toEqual([]);
      await rm(dir, { recursive: true, force: true });
    });
  }

  it('a login whose token carries CR/LF is refused before anything is created', async () => {
    const dir = await freshDir();
    const login: FakeLogin = fakes.tokens.issueLogin();
    const blob = JSON.parse(claudeCredentialsJson({ ...login, accessToken: `${login.accessToken}\r\nx-evil: 1` })) as unknown;
    await writeFile(join(dir, '.credentials.json'), JSON.stringify(blob));
    const name = `hostile-crlf-${n}`;
    const run = await runCli(['provider', 'create', '--name', name, '--type', 'anthropic-oauth', '--from-claude-login', '--config', `ANTHROPIC_OAUTH_BASE_URL=${fakes.api.url}`], {
      env: { ...home.env, CLAUDE_CONFIG_DIR: dir },
      timeoutMs: 60_000,
    });
    expect(run.code, run.stdout + run.stderr).toBe(1);
    expect(run.stderr).toMatch(/accessToken|ANTHROPIC_OAUTH_TOKEN|control|CR|LF|newline|invalid/i);
    expect(await gw.gateway.store.getProvider(name)).toBeUndefined();
    expect(await canaryScan([{ label: 'stderr', content: run.stderr }, { label: 'stdout', content: run.stdout }], [login.accessToken, ...(login.refreshToken ? [login.refreshToken] : [])])).toEqual([]);
  });
});
