// Store faults under the real gateway: SQLite locked by another process (shorter and longer than the
// busy timeout), and a PRIVATE Postgres cluster (initdb into a temp dir, its own port; never the shared
// one) that is stopped, restarted, and whose connections are killed. Requests either succeed after
// waiting or fail with a clear 503-class error in the gateway's shape; nothing is half-written (a
// refused write leaves no trace; an accepted one is complete and readable); the gateway recovers by
// itself once the database is back.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway, type TestJson } from './testing-fixtures/gateway-fixture.js';

const SERVER_DIR = fileURLToPath(new URL('..', import.meta.url));
const tally = { faults: 0, requests: 0 };

afterAll(() => {
  console.log(`[hostile] store faults injected: ${tally.faults}, requests during them: ${tally.requests}`);
});

/** Holds SQLite's write lock from ANOTHER process (better-sqlite3 blocks its own event loop while busy). */
async function lockFromAnotherProcess(file: string, holdMs: number): Promise<{ released: Promise<void>; child: ChildProcess }> {
  const script = `
    const Database = require('better-sqlite3');
    const db = new Database(process.argv[1]);
    db.exec('BEGIN IMMEDIATE');
    db.prepare("INSERT INTO providers (id) SELECT 'never-committed' WHERE 0").run;
    process.stdout.write('locked\\n');
    setTimeout(() => { db.exec('ROLLBACK'); db.close(); process.stdout.write('released\\n'); }, Number(process.argv[2]));
  `;
  const child = spawn(process.execPath, ['-e', script, file, String(holdMs)], { cwd: SERVER_DIR, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let onReleased: () => void = () => undefined;
  const released = new Promise<void>((r) => {
    onReleased = r;
  });
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
    if (out.includes('released')) onReleased();
  });
  for (let i = 0; i < 200 && !out.includes('locked'); i++) await new Promise((r) => setTimeout(r, 25));
  if (!out.includes('locked')) throw new Error('could not take the SQLite lock');
  return { released, child };
}

function expectClear503(res: { status: number; json: TestJson; text: string }): void {
  expect(res.status, res.text).toBe(503);
  expect(typeof res.json?.error?.code).toBe('string');
  expect(res.json.error.message).toMatch(/database|store|busy|unavailable/i);
}

async function providerNames(t: TestGateway): Promise<string[]> {
  return (await t.gw.store.listProviders()).map((p) => p.name).sort();
}

describe('SQLite locked by another process', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('a lock shorter than the busy timeout: the write waits and succeeds, complete', async () => {
    const lock = await lockFromAnotherProcess(join(t.dir, 'data', 'gateway.db'), 700);
    tally.faults++;
    tally.requests++;
    const res = await t.call('POST', '/v1/providers', { body: { name: 'after-short-lock', type: 'anthropic', credentials: { ANTHROPIC_API_KEY: 'sk-ant-api03-short' } } });
    await lock.released;
    expect(res.status, res.text).toBe(201);
    expect((await t.gw.store.getProvider('after-short-lock'))?.credentials.ANTHROPIC_API_KEY).toBe('sk-ant-api03-short');
  });

  it('a lock longer than the busy timeout: a clear 503, nothing written; reads keep working; the retry succeeds', async () => {
    const before = await providerNames(t);
    const lock = await lockFromAnotherProcess(join(t.dir, 'data', 'gateway.db'), 7_000);
    tally.faults++;
    try {
      tally.requests += 2;
      const write = await t.call('POST', '/v1/providers', { body: { name: 'during-long-lock', type: 'anthropic', credentials: { ANTHROPIC_API_KEY: 'sk-ant-api03-long' } } });
      expectClear503(write);
      expect(write.text).not.toContain('sk-ant-api03-long');
      // WAL: readers are not blocked by a writer.
      const read = await t.call('GET', '/v1/providers');
      expect(read.status).toBe(200);
    } finally {
      await lock.released;
    }
    expect(await providerNames(t)).toEqual(before);
    const retry = await t.call('POST', '/v1/providers', { body: { name: 'during-long-lock', type: 'anthropic', credentials: { ANTHROPIC_API_KEY: 'sk-ant-api03-long' } } });
    expect(retry.status, retry.text).toBe(201);
    expect((await t.call('GET', '/readyz')).status).toBe(200);
  }, 30_000);
});

// ---- Postgres: a private cluster of this test's own ----

const PG_BIN = ['/usr/lib/postgresql/17/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/15/bin'].find((d) => existsSync(join(d, 'initdb')));

function asPostgres(command: string): void {
  execFileSync('su', ['postgres', '-s', '/bin/sh', '-c', command], { stdio: 'pipe', timeout: 60_000 });
}

function privateClusterUsable(): string | undefined {
  if (PG_BIN === undefined) return 'no initdb under /usr/lib/postgresql/*/bin';
  if (process.getuid?.() !== 0) return 'not root: cannot run initdb as the postgres user';
  try {
    execFileSync('id', ['postgres'], { stdio: 'pipe' });
  } catch {
    return 'no postgres user';
  }
  return undefined;
}

const skipReason = privateClusterUsable();
if (skipReason !== undefined) console.log(`[hostile] Postgres fault tests skipped: ${skipReason}`);

describe.skipIf(skipReason !== undefined)('a private Postgres cluster that stops, restarts and drops connections', () => {
  let root: string;
  let port: number;
  let t: TestGateway;
  const dataDir = () => join(root, 'pgdata');
  const pgCtl = (action: string) => asPostgres(`${PG_BIN}/pg_ctl -D ${dataDir()} -l ${join(root, 'pg.log')} -w -t 30 -o "-p ${port} -k ${root} -c listen_addresses=127.0.0.1" ${action}`);

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'osh-hostile-pg-'));
    await chmod(root, 0o777);
    const s = net.createServer();
    s.listen(0, '127.0.0.1');
    await once(s, 'listening');
    port = (s.address() as AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    asPostgres(`${PG_BIN}/initdb -D ${dataDir()} -A trust -U postgres --no-sync >/dev/null`);
    pgCtl('start');
    t = await startTestGateway({ databaseUrl: `postgres://postgres@127.0.0.1:${port}/postgres`, databaseSchema: 'hostile' });
  }, 120_000);

  afterAll(async () => {
    await t?.close().catch(() => undefined);
    try {
      pgCtl('stop -m immediate');
    } catch {
      // already stopped
    }
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  async function retryUntil(fn: () => Promise<boolean>, ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (await fn()) return true;
      await new Promise((r) => setTimeout(r, 200));
    }
    return false;
  }

  it('serves normally on the private cluster', async () => {
    const res = await t.call('POST', '/v1/providers', { body: { name: 'pg-one', type: 'anthropic', credentials: { ANTHROPIC_API_KEY: 'sk-ant-api03-pg-one' } } });
    expect(res.status, res.text).toBe(201);
  });

  it('connections killed by the server: requests fail clearly or succeed, then everything works again', async () => {
    const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
    await admin.connect();
    try {
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND datname = current_database()');
    } finally {
      await admin.end();
    }
    tally.faults++;
    const answers = [];
    for (let i = 0; i < 5; i++) {
      tally.requests++;
      answers.push(await t.call('GET', '/v1/providers'));
    }
    for (const a of answers) {
      if (a.status !== 200) expectClear503(a);
    }
    expect(await retryUntil(async () => (await t.call('GET', '/v1/providers')).status === 200, 15_000)).toBe(true);
    const write = await t.call('POST', '/v1/providers', { body: { name: 'pg-after-kill', type: 'anthropic', credentials: { ANTHROPIC_API_KEY: 'sk-ant-api03-kill' } } });
    expect(write.status, write.text).toBe(201);
  }, 60_000);

  it('the cluster stops under writes: clear 503s, readyz says not ready, nothing half-written; after a restart the gateway recovers by itself', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `pg-burst-${i}`);
    const burst = names.map((name, i) =>
      (async () => {
        await new Promise((r) => setTimeout(r, i * 40));
        tally.requests++;
        return { name, res: await t.call('POST', '/v1/providers', { body: { name, type: 'anthropic', credentials: { ANTHROPIC_API_KEY: `sk-ant-api03-${name}` }, config: { ANTHROPIC_BASE_URL: 'https://api.anthropic.com/v1' } } }) };
      })(),
    );
    await new Promise((r) => setTimeout(r, 150));
    pgCtl('stop -m immediate');
    tally.faults++;
    const results = await Promise.all(burst);
    for (const { res } of results) if (res.status !== 201) expectClear503(res);
    tally.requests += 2;
    const during = await t.call('GET', '/v1/providers');
    expectClear503(during);
    expect((await t.call('GET', '/readyz')).status).toBe(503);

    pgCtl('start');
    expect(await retryUntil(async () => (await t.call('GET', '/readyz')).status === 200, 30_000), 'the gateway did not recover').toBe(true);
    // Nothing half-written: every accepted write is complete; every refused one left no row, or a complete one (commit raced the stop).
    for (const { name, res } of results) {
      const stored = await t.gw.store.getProvider(name);
      if (res.status === 201) expect(stored?.credentials.ANTHROPIC_API_KEY).toBe(`sk-ant-api03-${name}`);
      if (stored !== undefined) {
        expect(stored.credentials.ANTHROPIC_API_KEY).toBe(`sk-ant-api03-${name}`);
        expect(stored.config.ANTHROPIC_BASE_URL).toBe('https://api.anthropic.com/v1');
      }
    }
    const write = await t.call('POST', '/v1/providers', { body: { name: 'pg-after-restart', type: 'anthropic', credentials: { ANTHROPIC_API_KEY: 'sk-ant-api03-restart' } } });
    expect(write.status, write.text).toBe(201);
  }, 120_000);
});
