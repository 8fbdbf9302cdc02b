// `npm run demo` must keep working from the README: run it for real (the suite has built the
// packages) and check what it reports, that it exits 0, and that it leaves nothing behind.
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './harness/paths.js';

async function demoDirs(): Promise<string[]> {
  return (await readdir(tmpdir())).filter((n) => n.startsWith('openshell-demo-'));
}

describe('npm run demo', () => {
  it('answers through the sandbox, shows the merged beta and the fingerprint, finds no token, cleans up', async () => {
    const before = await demoDirs();
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [join(REPO_ROOT, 'e2e', 'demo', 'run.mjs')], {
        cwd: REPO_ROOT,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? tmpdir(), OPENSHELL_DEMO_NO_BUILD: '1' },
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (c) => (out += c));
      child.stderr.on('data', (c) => (err += c));
      const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
      child.on('error', reject);
      child.on('close', (c) => {
        clearTimeout(timer);
        resolve({ code: c, stdout: out, stderr: err });
      });
    });
    expect(code, `${stdout}\n${stderr}`).toBe(0);
    expect(stdout).toContain('answer                   "You said: What does OpenShell do with my token?"');
    expect(stdout).toMatch(/anthropic-beta\s+fine-grained-tool-streaming-2025-05-14,oauth-2025-04-20 /);
    expect(stdout).toMatch(/authorization\s+Bearer <token with fingerprint [0-9a-f]{12}> = the provider's token/);
    expect(stdout).toContain('x-api-key                (none)');
    expect(stdout).toContain('ANTHROPIC_BASE_URL       https://inference.local');
    expect(stdout).toContain('the real token           nowhere');
    expect(stdout).toContain('demo passed; cleaned up.');
    expect(await demoDirs()).toEqual(before);

    // The README shows this output: the same lines, up to the port, the fingerprints and the isolation mode.
    const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('npm run demo');
    const shown = /```text\n(OpenShell-TS demo:[\s\S]*?)```/.exec(readme)?.[1];
    expect(shown, 'README.md has no demo output block').toBeDefined();
    const mask = (t: string) => t.replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT').replace(/\b[0-9a-f]{12}\b/g, 'FINGERPRINT').replace(/isolation (bwrap|none)/, 'isolation MODE').trimEnd();
    expect(mask(shown as string)).toBe(mask(stdout));
  });
});
