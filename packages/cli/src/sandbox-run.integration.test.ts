import { spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliWorld, type Fakes, runCli, startCliWorld, type TestGateway, type TestHome } from './testing-fixtures/harness.js';

// What the child prints: its environment's keys and the values that matter, as JSON.
const PROBE = [
  '-e',
  'const e=process.env;console.log(JSON.stringify({keys:Object.keys(e).sort(),base:e.ANTHROPIC_BASE_URL??null,home:e.HOME}));process.exit(Number(process.argv[1]??0))',
];

/** bwrap present and able to make the namespaces (CI installs it; a laptop may not have it). */
function bwrapWorks(): boolean {
  const ok = spawnSync('bwrap', ['--ro-bind', '/', '/', '--unshare-net', '--', 'true']).status === 0;
  if (!ok) console.warn('[cli] bwrap is not usable here: skipping the --ro-bind pass-through check');
  return ok;
}

describe('sandbox run (CLI → supervisor, token on fd 3)', () => {
  let home: TestHome;
  let fakes: Fakes;
  let gw: TestGateway;
  let world: CliWorld;
  const setupToken = () => fakes.tokens.issueLogin({ withRefreshToken: false }).accessToken;
  beforeAll(async () => {
    world = await startCliWorld();
    ({ home, fakes, gw } = world);
    const created = await runCli(['provider', 'create', '--name', 'plan', '--type', 'claude-plan', '--from-setup-token', '--no-verify', '--config', `ANTHROPIC_OAUTH_BASE_URL=${fakes.api.url}`], {
      env: { ...home.env, CLAUDE_CODE_OAUTH_TOKEN: setupToken() },
    });
    expect(created.code, created.stderr).toBe(0);
    const route = await runCli(['inference', 'set', '--provider', 'plan', '--no-verify'], { env: home.env });
    expect(route.code, route.stderr).toBe(0);
    const sandbox = await runCli(['sandbox', 'create', '--name', 'dev', '--provider', 'plan'], { env: home.env });
    expect(sandbox.code, sandbox.stderr).toBe(0);
  });
  afterAll(() => world?.close());

  it('runs the command as the sandbox child and exits with its code; no token in any argv or the child env', async () => {
    const run = await runCli(['sandbox', 'run', 'dev', '--isolation', 'none', '--', process.execPath, ...PROBE, '7'], {
      env: { ...home.env, OPENSHELL_ADMIN_TOKEN: await gw.adminToken() },
    });
    expect(run.code, run.stderr).toBe(7);
    const line = run.stdout.split('\n').find((l) => l.startsWith('{'));
    const child = JSON.parse(line ?? '{}') as { keys: string[]; base: string | null; home: string };
    expect(child.base).toBe('https://inference.local');
    expect(child.keys).not.toContain('OPENSHELL_ADMIN_TOKEN');
    expect(child.keys).not.toContain('ANTHROPIC_OAUTH_TOKEN');
    expect(child.home).toContain('sandboxes');
    // Admin (osa_) and sandbox (oss_) tokens never sat in any process's command line.
    expect(run.commandLines.filter((c) => /\bos[as]_/.test(c))).toEqual([]);
    expect(run.commandLines.some((c) => c.includes('openshell-supervisor') && c.includes('--token-fd 3'))).toBe(true);
  });

  it('runs in a temporary sandbox with --provider and deletes it afterwards', async () => {
    const run = await runCli(['sandbox', 'run', '--provider', 'plan', '--isolation', 'none', '--', process.execPath, ...PROBE, '0'], { env: home.env });
    expect(run.code, run.stderr).toBe(0);
    const name = /Created temporary sandbox (run-[0-9a-f]{8})/.exec(run.stderr)?.[1];
    expect(name).toBeDefined();
    expect(await gw.gateway.store.getSandbox(name as string)).toBeUndefined();
    expect((await gw.gateway.store.listSandboxes()).map((s) => s.name)).toEqual(['dev']);
  });

  it.skipIf(!bwrapWorks())('passes --ro-bind to the supervisor: a directory under /tmp, hidden by bwrap otherwise, becomes readable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'openshell-robind-'));
    await writeFile(join(dir, 'note.txt'), 'visible');
    const read = ['-c', `cat ${join(dir, 'note.txt')}`];
    const hidden = await runCli(['sandbox', 'run', 'dev', '--isolation', 'bwrap', '--', 'sh', ...read], { env: home.env });
    expect(hidden.code).not.toBe(0);
    const shown = await runCli(['sandbox', 'run', 'dev', '--isolation', 'bwrap', '--ro-bind', dir, '--', 'sh', ...read], { env: home.env });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('visible');
    expect(shown.commandLines.some((c) => c.includes(`--ro-bind ${dir}`))).toBe(true);
  });

  it('fails clearly for an unknown sandbox', async () => {
    const run = await runCli(['sandbox', 'run', 'ghost', '--', 'true'], { env: home.env });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("sandbox 'ghost' does not exist");
  });
});
