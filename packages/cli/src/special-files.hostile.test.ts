// Special files in place of .credentials.json: a symlink to /dev/zero, a FIFO nobody writes, a BOM.
// Refused at once with a clear error (fixed in cli b1801ad after the hostile report), never read forever.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readClaudeLogin } from './claude-login.js';
import { CLI_PACKAGE_DIR, createTestHome, type TestHome } from './testing-fixtures/harness.js';

let home: TestHome;
beforeAll(async () => {
  home = await createTestHome();
});
afterAll(async () => {
  await home?.cleanup();
});

describe('special files in place of .credentials.json', () => {
  it('a symlink to /dev/zero: a clear error, no crash (heap capped at 256 MB), bounded time', async () => {
    const dir = join(home.root, 'zero');
    await mkdir(dir, { recursive: true });
    await symlink('/dev/zero', join(dir, '.credentials.json'));
    // readClaudeLogin in a child with a capped heap: today it dies with "JavaScript heap out of memory" (exit 134).
    const script = `import('./src/claude-login.ts').then((m) => m.readClaudeLogin({ env: { HOME: '/nonexistent', CLAUDE_CONFIG_DIR: ${JSON.stringify(dir)} }, keychain: { getPassword: async () => null } })).then(() => process.exit(3), (e) => { console.log(e.code, e.message); process.exit(1); })`;
    const r = spawnSync(join(CLI_PACKAGE_DIR, 'node_modules', '.bin', 'tsx'), ['--conditions=source', '-e', script], {
      cwd: CLI_PACKAGE_DIR,
      env: { ...process.env, NODE_OPTIONS: '--max-old-space-size=256' },
      timeout: 20_000,
      encoding: 'utf8',
    });
    expect(r.status, r.stderr.slice(0, 300)).toBe(1);
    expect(r.stdout).toMatch(/not a regular file|too large/i);
  });

  it('a FIFO nobody writes: refused at once', async () => {
    const dir = join(home.root, 'fifo');
    await mkdir(dir, { recursive: true });
    execFileSync('mkfifo', [join(dir, '.credentials.json')]);
    const outcome = await Promise.race([
      readClaudeLogin({ env: { HOME: join(dir, 'h'), CLAUDE_CONFIG_DIR: dir }, keychain: { getPassword: async () => null } }).then(
        () => 'login',
        (e: { message: string }) => e.message,
      ),
      new Promise((r) => setTimeout(() => r('hung'), 3_000)),
    ]);
    expect(outcome).toMatch(/not a regular file/i);
  });

  it('a UTF-8 BOM before valid JSON is accepted or named', async () => {
    const dir = join(home.root, 'bom');
    await mkdir(dir, { recursive: true });
    const json = JSON.stringify({ claudeAiOauth: { accessToken: 'sk-ant-oat01-bom', refreshToken: 'sk-ant-ort01-bom', expiresAt: Date.now() + 3_600_000, scopes: ['user:inference'] } });
    await writeFile(join(dir, '.credentials.json'), `\uFEFF${json}`);
    const outcome = await readClaudeLogin({ env: { HOME: join(dir, 'h'), CLAUDE_CONFIG_DIR: dir }, keychain: { getPassword: async () => null } }).then(
      (r) => r.login.accessToken,
      (e: { message: string }) => e.message,
    );
    expect(outcome).toMatch(/^sk-ant-oat01-bom$|byte.order mark|BOM/i);
  });
});
