import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { describeStoreContract } from '../testing-fixtures/store-contract.js';
import { StoreError } from './errors.js';
import { openStore } from './open-store.js';
import { openSqliteStore } from './sqlite-store.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'openshell-store-'));
}

describeStoreContract('sqlite', {
  crossInstanceChanges: false,
  async fresh() {
    const dir = tempDir();
    const file = join(dir, 'gateway.db');
    return {
      open: (options) => openSqliteStore({ file, ...options }),
      async rawContents() {
        return ['', '-wal', '-shm']
          .map((suffix) => file + suffix)
          .filter((path) => existsSync(path))
          .map((path) => readFileSync(path).toString('latin1'))
          .join('\n');
      },
      async swapSealedCredentials(a, b) {
        const raw = new Database(file);
        try {
          const get = raw.prepare('SELECT credentials FROM providers WHERE name = ?');
          const ca = (get.get(a) as { credentials: string }).credentials;
          const cb = (get.get(b) as { credentials: string }).credentials;
          const set = raw.prepare('UPDATE providers SET credentials = ? WHERE name = ?');
          set.run(cb, a);
          set.run(ca, b);
        } finally {
          raw.close();
        }
      },
      async dispose() {
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});

describe('openSqliteStore (SQLite specifics)', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the database file and its -wal/-shm sidecars at mode 0600', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const file = join(dir, 'nested', 'gateway.db');
    const store = await openSqliteStore({ file, kek: randomBytes(32) });
    try {
      await store.createProvider({ name: 'p', type: 'openai', credentials: { OPENAI_API_KEY: 'k' } });
      for (const path of [file, `${file}-wal`, `${file}-shm`]) {
        expect(existsSync(path), `${path} exists while open (WAL mode)`).toBe(true);
        expect((statSync(path).mode & 0o777).toString(8), path).toBe('600');
      }
      expect((statSync(join(dir, 'nested')).mode & 0o777).toString(8)).toBe('700');
    } finally {
      await store.close();
    }
  });

  it('survives a reopen with the same key and keeps the data', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const kek = randomBytes(32);
    const first = await openStore({ dataDir: dir, kek });
    await first.createProvider({ name: 'p', type: 'openai', credentials: { OPENAI_API_KEY: 'kept' } });
    await first.close();
    const second = await openStore({ dataDir: dir, kek });
    try {
      expect(second.dialect).toBe('sqlite');
      expect((await second.getProvider('p'))?.credentials).toEqual({ OPENAI_API_KEY: 'kept' });
    } finally {
      await second.close();
    }
    expect(existsSync(join(dir, 'gateway.db'))).toBe(true);
  });

  it('classifies a damaged database file as corrupt', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const file = join(dir, 'gateway.db');
    writeFileSync(file, Buffer.concat([Buffer.from('definitely not a database '), randomBytes(4096)]));
    const error = await openSqliteStore({ file, kek: randomBytes(32) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(StoreError.is(error, 'corrupt'), String(error)).toBe(true);
  });

  it('rejects an unsupported database URL scheme with a fix', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const error = await openStore({ dataDir: dir, databaseUrl: 'mysql://x', kek: randomBytes(32) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(StoreError.is(error, 'unavailable')).toBe(true);
    expect((error as Error).message).toMatch(/postgres:\/\/|sqlite:/);
  });
});
