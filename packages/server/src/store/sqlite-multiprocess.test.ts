import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreError } from './errors.js';
import { openSqliteStore } from './sqlite-store.js';

const CHILD = fileURLToPath(new URL('../testing-fixtures/store-race-child.ts', import.meta.url));
const SERVER_DIR = fileURLToPath(new URL('../../', import.meta.url));

describe('SQLite store shared by two processes', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('lets exactly one CAS write and one lease win across both processes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'openshell-race-'));
    dirs.push(dir);
    const file = join(dir, 'gateway.db');
    const kek = randomBytes(32);
    const store = await openSqliteStore({ file, kek });
    try {
      await store.createProvider({ name: 'p', type: 'anthropic-oauth', credentials: { ANTHROPIC_OAUTH_TOKEN: 'a' } });
      await store.putRefreshConfig({ provider: 'p', key: 'ANTHROPIC_OAUTH_TOKEN', strategy: 'oauth2_refresh_token', material: { refresh_token: 'r' } });

      const attempts = 10;
      const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', CHILD], {
        cwd: SERVER_DIR,
        env: { ...process.env, OPENSHELL_TEST_RACE: JSON.stringify({ file, kek: kek.toString('base64'), provider: 'p', key: 'ANTHROPIC_OAUTH_TOKEN', attempts }) },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      const killer = setTimeout(() => child.kill('SIGKILL'), 25_000);
      let stdout = '';
      let stderr = '';
      const ready = new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString('utf8');
          if (stdout.includes('ready\n')) resolve();
        });
        child.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString('utf8');
        });
        child.on('exit', (code) => reject(new Error(`child exited early (${code}): ${stderr}`)));
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      await ready;

      child.stdin.write('go\n');
      const [updates, leases] = await Promise.all([
        Promise.allSettled(
          Array.from({ length: attempts }, (_, i) => store.updateProvider('p', { expectedResourceVersion: 1, config: { WRITER: `parent-${i}` } })),
        ),
        Promise.allSettled(Array.from({ length: attempts }, (_, i) => store.beginRefresh('p', 'ANTHROPIC_OAUTH_TOKEN', `parent-${i}`, 60_000))),
      ]);
      expect(await exited).toBe(0);
      clearTimeout(killer);
      const childResult = JSON.parse(stdout.split('\n').find((l) => l.startsWith('{')) ?? '{}') as { updates: string[]; leases: string[] };

      const parentUpdates = updates.map((r) => (r.status === 'fulfilled' ? 'won' : StoreError.is(r.reason) ? r.reason.code : String(r.reason)));
      const parentLeases = leases.map((r) => (r.status === 'fulfilled' ? r.value.outcome : StoreError.is(r.reason) ? r.reason.code : String(r.reason)));
      const allUpdates = [...parentUpdates, ...childResult.updates];
      const allLeases = [...parentLeases, ...childResult.leases];
      expect(allUpdates).toHaveLength(2 * attempts);
      expect(allUpdates.filter((o) => o === 'won')).toHaveLength(1);
      expect(allUpdates.filter((o) => o === 'conflict')).toHaveLength(2 * attempts - 1);
      expect(allLeases.filter((o) => o === 'acquired')).toHaveLength(1);
      expect(allLeases.filter((o) => o === 'busy')).toHaveLength(2 * attempts - 1);

      const final = await store.getProvider('p');
      expect(final?.resourceVersion).toBe(2);
      const state = await store.getRefreshState('p', 'ANTHROPIC_OAUTH_TOKEN');
      expect(state?.leaseOwner).toMatch(/^(parent|child)-\d+$/);
      expect(state?.inFlight?.owner).toBe(state?.leaseOwner);
    } finally {
      await store.close();
    }
  }, 40_000);
});
