import { chmodSync, closeSync, existsSync, mkdirSync, openSync, realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { createSealer } from '../crypto/seal.js';
import { toStoreError } from './classify-error.js';
import { applyMigrations, type Migration, SQLITE_MIGRATIONS } from './migrations.js';
import { Mutex } from './mutex.js';
import type { SqlDriver, SqlExecutor, SqlRow } from './sql-driver.js';
import { SqlStore } from './sql-store.js';
import { toPositional, withSchema } from './sql-text.js';
import type { SqliteStoreOptions, Store } from './types.js';

/** The SQLite sidecar files that exist beside a WAL database. */
export const SQLITE_SIDECARS = ['-wal', '-shm'] as const;

// One mutex per database file for this process: better-sqlite3 is synchronous, so two handles on one
// file inside one process must not interleave transactions (the second would block the event loop
// in busy_timeout while the first can never finish). Other processes are handled by busy_timeout.
const FILE_MUTEXES = new Map<string, Mutex>();

function mutexFor(file: string): Mutex {
  let mutex = FILE_MUTEXES.get(file);
  if (mutex === undefined) {
    mutex = new Mutex();
    FILE_MUTEXES.set(file, mutex);
  }
  return mutex;
}

/** Restricts the database file and its sidecars to the owner (0600). */
export function restrictSqliteFiles(file: string): void {
  for (const path of [file, ...SQLITE_SIDECARS.map((suffix) => file + suffix)]) {
    if (existsSync(path)) chmodSync(path, 0o600);
  }
}

function bindable(value: unknown): unknown {
  if (value === undefined) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value;
}

/**
 * Opens (creating when absent) the embedded SQLite store: WAL, `busy_timeout`, foreign keys,
 * `synchronous=FULL` (a committed rotation survives a power cut), file and -wal/-shm sidecars 0600,
 * migrations applied, key check value verified (`key_mismatch` when the KEK is not the store's).
 */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  const sealer = createSealer(options.kek);
  let db: Database.Database;
  let path: string;
  try {
    mkdirSync(dirname(options.file), { recursive: true, mode: 0o700 });
    // Create the file 0600 first: SQLite then creates its sidecars with the same mode.
    closeSync(openSync(options.file, 'a', 0o600));
    chmodSync(options.file, 0o600);
    path = realpathSync(options.file);
    db = new Database(path, { timeout: options.busyTimeoutMs ?? 5000 });
  } catch (error) {
    throw toStoreError(error);
  }
  const driver = createSqliteDriver(db, path);
  try {
    db.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`);
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.pragma('synchronous = FULL');
    restrictSqliteFiles(path);
    await migrateSqlite(driver, SQLITE_MIGRATIONS);
    const store = new SqlStore(driver, sealer, options.clock ?? Date.now);
    await store.init();
    restrictSqliteFiles(path);
    return store;
  } catch (error) {
    db.close();
    throw toStoreError(error);
  }
}

function createSqliteDriver(db: Database.Database, file: string): SqlDriver {
  const mutex = mutexFor(file);
  const statements = new Map<string, Database.Statement>();
  let closed = false;

  const exec: SqlExecutor = {
    async query(sql, params = []) {
      const positional = toPositional(withSchema(sql, undefined), params);
      let stmt = statements.get(positional.sql);
      if (stmt === undefined) {
        stmt = db.prepare(positional.sql);
        statements.set(positional.sql, stmt);
      }
      const values = positional.params.map(bindable);
      if (stmt.reader) {
        const rows = stmt.all(...values) as SqlRow[];
        return { rows, rowCount: rows.length };
      }
      const info = stmt.run(...values);
      return { rows: [], rowCount: info.changes };
    },
  };

  return {
    dialect: 'sqlite',
    forUpdate: '',
    forShare: '',
    query(sql, params) {
      return mutex.run(async () => {
        try {
          return await exec.query(sql, params);
        } catch (error) {
          throw toStoreError(error);
        }
      });
    },
    transaction(fn) {
      return mutex.run(async () => {
        try {
          db.exec('BEGIN IMMEDIATE');
          const result = await fn(exec);
          db.exec('COMMIT');
          return result;
        } catch (error) {
          if (db.open && db.inTransaction) db.exec('ROLLBACK');
          throw toStoreError(error);
        }
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      await mutex.run(async () => {
        statements.clear();
        db.close();
      });
    },
  };
}

async function migrateSqlite(driver: SqlDriver, migrations: readonly Migration[]): Promise<void> {
  await driver.transaction((q) => applyMigrations(q, migrations, 'INTEGER'));
}
