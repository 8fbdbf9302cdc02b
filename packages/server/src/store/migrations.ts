/**
 * Schema migrations per dialect, applied in order at open. Never edit a shipped migration: append.
 * `{s}` stands for the schema prefix (Postgres `"schema".`, SQLite empty). Secret columns
 * (`providers.credentials`, `refresh_states.material`) hold AES-256-GCM sealed text only.
 */
import type { SqlExecutor } from './sql-driver.js';

/** One schema migration: its version, a name, and the statements that apply it. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly statements: readonly string[];
}

type Types = { int: string; real: string };

function initial(t: Types): string[] {
  return [
    `CREATE TABLE {s}meta (
      key TEXT PRIMARY KEY,
      value TEXT NOT NULL
    )`,
    `CREATE TABLE {s}providers (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL UNIQUE,
      type TEXT NOT NULL,
      credentials TEXT NOT NULL,
      config TEXT NOT NULL,
      credential_expires_at TEXT NOT NULL,
      resource_version ${t.int} NOT NULL,
      created_at ${t.int} NOT NULL,
      updated_at ${t.int} NOT NULL
    )`,
    `CREATE TABLE {s}inference_routes (
      name TEXT PRIMARY KEY,
      provider TEXT NOT NULL REFERENCES {s}providers (name),
      model TEXT,
      timeout_seconds ${t.real},
      resource_version ${t.int} NOT NULL,
      created_at ${t.int} NOT NULL,
      updated_at ${t.int} NOT NULL
    )`,
    `CREATE INDEX inference_routes_provider_idx ON {s}inference_routes (provider)`,
    `CREATE TABLE {s}sandboxes (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL UNIQUE,
      resource_version ${t.int} NOT NULL,
      created_at ${t.int} NOT NULL,
      updated_at ${t.int} NOT NULL
    )`,
    `CREATE TABLE {s}sandbox_providers (
      sandbox_id TEXT NOT NULL REFERENCES {s}sandboxes (id) ON DELETE CASCADE,
      provider TEXT NOT NULL REFERENCES {s}providers (name),
      position INTEGER NOT NULL,
      PRIMARY KEY (sandbox_id, provider)
    )`,
    `CREATE INDEX sandbox_providers_provider_idx ON {s}sandbox_providers (provider)`,
    `CREATE TABLE {s}sandbox_tokens (
      id TEXT PRIMARY KEY,
      sandbox_id TEXT NOT NULL REFERENCES {s}sandboxes (id) ON DELETE CASCADE,
      hash TEXT NOT NULL UNIQUE,
      expires_at ${t.int},
      created_at ${t.int} NOT NULL
    )`,
    `CREATE INDEX sandbox_tokens_sandbox_idx ON {s}sandbox_tokens (sandbox_id)`,
    `CREATE TABLE {s}refresh_states (
      provider TEXT NOT NULL REFERENCES {s}providers (name) ON DELETE CASCADE,
      key TEXT NOT NULL,
      strategy TEXT NOT NULL,
      material TEXT NOT NULL,
      status TEXT NOT NULL,
      last_refresh_at ${t.int},
      next_refresh_at ${t.int},
      consecutive_failures INTEGER NOT NULL,
      last_error TEXT,
      config_version ${t.int} NOT NULL,
      in_flight_owner TEXT,
      in_flight_started_at ${t.int},
      lease_owner TEXT,
      lease_expires_at ${t.int},
      resource_version ${t.int} NOT NULL,
      created_at ${t.int} NOT NULL,
      updated_at ${t.int} NOT NULL,
      PRIMARY KEY (provider, key)
    )`,
  ];
}

/** SQLite migrations. */
export const SQLITE_MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial', statements: initial({ int: 'INTEGER', real: 'REAL' }) },
];

/** Postgres migrations. */
export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial', statements: initial({ int: 'BIGINT', real: 'DOUBLE PRECISION' }) },
];

/**
 * Applies, in order, every migration the database has not yet recorded in `schema_migrations`.
 * The caller runs it in one transaction (Postgres also under an advisory lock, so replicas that start
 * together migrate once). `intType` is the dialect's 64-bit integer type (`applied_at` is epoch ms).
 */
export async function applyMigrations(q: SqlExecutor, migrations: readonly Migration[], intType: 'INTEGER' | 'BIGINT'): Promise<void> {
  await q.query(`CREATE TABLE IF NOT EXISTS {s}schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at ${intType} NOT NULL)`);
  const applied = new Set((await q.query('SELECT version FROM {s}schema_migrations')).rows.map((r) => Number(r.version)));
  for (const migration of migrations) {
    if (applied.has(migration.version)) continue;
    for (const statement of migration.statements) await q.query(statement);
    await q.query('INSERT INTO {s}schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [migration.version, migration.name, Date.now()]);
  }
}
