import { createHash, randomUUID } from 'node:crypto';
import type pg from 'pg';
import { createSealer } from '../crypto/seal.js';
import { classifyDriverError, toStoreError } from './classify-error.js';
import { StoreError } from './errors.js';
import { applyMigrations, type Migration, POSTGRES_MIGRATIONS } from './migrations.js';
import type { SqlDriver, SqlExecutor, SqlRow } from './sql-driver.js';
import { SqlStore } from './sql-store.js';
import { quoteIdentifier, SCHEMA_NAME, withSchema } from './sql-text.js';
import type { PostgresStoreOptions, Store, StoreChange, StoreChangeKind } from './types.js';

const MAX_NOTIFY_BYTES = 7000; // Postgres caps a NOTIFY payload at 8000 bytes
const TX_ATTEMPTS = 3; // deadlock / serialization failures are retried this many times in all
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5000;
const CONNECT_TIMEOUT_MS = 10_000; // an unreachable server or an exhausted pool fails instead of hanging
const HEARTBEAT_MS = 15_000; // a silently dead LISTEN connection (half-open TCP) is noticed this fast
const HEARTBEAT_TIMEOUT_MS = 5_000;

type PgLibrary = typeof pg;
let pgLibrary: PgLibrary | undefined;

/** Loads `pg` on first use, so a gateway on SQLite never pays for it at start-up. */
async function loadPg(): Promise<PgLibrary> {
  pgLibrary ??= (await import('pg')).default;
  return pgLibrary;
}

/** The schema holding the gateway's tables unless told otherwise (kept apart from `public`). */
export const DEFAULT_POSTGRES_SCHEMA = 'openshell';

/** The change that means "anything may have changed: re-read" (after a lost LISTEN connection). */
export const WILDCARD_CHANGE: StoreChange = { kind: 'provider', name: '*', op: 'update' };

/** The NOTIFY channel of a schema (an identifier of bounded length). */
export function changeChannel(schema: string): string {
  return `openshell_changes_${createHash('sha256').update(schema).digest('hex').slice(0, 16)}`;
}

/**
 * Opens the Postgres store: a `pg` Pool, migrations under an advisory lock (replicas starting
 * together are safe), key check value verified, and a LISTEN connection that delivers other
 * replicas' changes to `watchChanges` listeners.
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const schema = options.schema ?? DEFAULT_POSTGRES_SCHEMA;
  if (!SCHEMA_NAME.test(schema)) {
    throw new StoreError('unavailable', `invalid Postgres schema name "${schema}": use letters, digits and underscores`);
  }
  const sealer = createSealer(options.kek);
  const lib = await loadPg();
  const pool = new lib.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    application_name: 'openshell-gateway',
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    keepAlive: true,
  });
  // An idle client's error (server restart) must not crash the gateway; the next query reports it.
  pool.on('error', () => undefined);
  const driver = createPostgresDriver(lib, pool, options.url, schema);
  try {
    await migratePostgres(pool, schema, POSTGRES_MIGRATIONS);
    const store = new SqlStore(driver, sealer, options.clock ?? Date.now);
    await store.init();
    return store;
  } catch (error) {
    await driver.close().catch(() => undefined);
    throw toStoreError(error);
  }
}

function executor(client: pg.Pool | pg.PoolClient, schema: string): SqlExecutor {
  return {
    async query(sql, params = []) {
      const result = await client.query(withSchema(sql, schema), params as unknown[]);
      return { rows: result.rows as SqlRow[], rowCount: result.rowCount ?? 0 };
    },
  };
}

function isConnectionError(error: unknown): boolean {
  return classifyDriverError(error) === 'unavailable';
}

/**
 * Runs `fn` in one transaction on a checked-out client: BEGIN, COMMIT, ROLLBACK on error; a client
 * whose connection broke is destroyed on release instead of going back to the pool.
 */
async function inTransaction<T>(pool: pg.Pool, schema: string, fn: (q: SqlExecutor) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: unknown;
  // pg-pool removes its own error listener while a client is checked out: without this one, a
  // connection lost between two queries of the transaction (Postgres restarting, a killed backend)
  // is emitted as an unhandled 'error' and kills the gateway process.
  const onError = (error: Error) => {
    broken = error;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await fn(executor(client, schema));
    await client.query('COMMIT');
    return result;
  } catch (error) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackError) {
      broken = rollbackError;
    }
    if (isConnectionError(error)) broken = error;
    throw error;
  } finally {
    client.off('error', onError);
    client.release(broken instanceof Error ? broken : undefined);
  }
}

function createPostgresDriver(lib: PgLibrary, pool: pg.Pool, url: string, schema: string): SqlDriver {
  const instance = randomUUID();
  const channel = changeChannel(schema);
  const poolExec = executor(pool, schema);
  let closed = false;
  let listener: pg.Client | undefined;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;

  async function startListening(deliver: (changes: readonly StoreChange[]) => void, attempt: number): Promise<void> {
    if (closed) return;
    const client = new lib.Client({
      connectionString: url,
      application_name: 'openshell-gateway-listen',
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      keepAlive: true,
    });
    let lost = false;
    let failures = attempt; // reset once connected, so each outage starts with a short delay
    const onLost = () => {
      if (lost || closed) return;
      if (heartbeat !== undefined) clearInterval(heartbeat);
      heartbeat = undefined;
      lost = true;
      client.removeAllListeners('notification');
      client.end().catch(() => undefined);
      if (listener === client) listener = undefined;
      const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** Math.min(failures, 6));
      reconnectTimer = setTimeout(() => {
        reconnectTimer = undefined;
        startListening(deliver, failures + 1).then(
          () => deliver([WILDCARD_CHANGE]), // notifications may have been missed meanwhile
          () => undefined,
        );
      }, delay);
      reconnectTimer.unref();
    };
    client.on('error', onLost);
    client.on('end', onLost);
    client.on('notification', (message) => {
      if (message.channel !== channel || message.payload === undefined) return;
      const changes = parseNotification(message.payload, instance);
      if (changes.length > 0) deliver(changes);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${quoteIdentifier(channel)}`);
    } catch (error) {
      onLost();
      throw error;
    }
    if (closed) {
      await client.end().catch(() => undefined);
      return;
    }
    listener = client;
    failures = 0;
    heartbeat = setInterval(() => {
      if (closed || lost) return;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('LISTEN heartbeat timed out')), HEARTBEAT_TIMEOUT_MS);
      });
      Promise.race([client.query('SELECT 1'), timeout]).then(
        () => clearTimeout(timer),
        () => {
          clearTimeout(timer);
          onLost();
        },
      );
    }, HEARTBEAT_MS);
    heartbeat.unref();
  }

  return {
    dialect: 'postgres',
    forUpdate: ' FOR UPDATE',
    forShare: ' FOR SHARE',
    async query(sql, params) {
      try {
        return await poolExec.query(sql, params);
      } catch (error) {
        throw toStoreError(error);
      }
    },
    async transaction(fn) {
      for (let attempt = 1; ; attempt++) {
        try {
          return await inTransaction(pool, schema, fn);
        } catch (error) {
          const code = (error as { code?: unknown }).code;
          if ((code === '40001' || code === '40P01') && attempt < TX_ATTEMPTS) continue;
          throw toStoreError(error);
        }
      }
    },
    async publish(q, changes) {
      let payload = JSON.stringify({ o: instance, c: changes });
      if (Buffer.byteLength(payload) > MAX_NOTIFY_BYTES) payload = JSON.stringify({ o: instance, c: [WILDCARD_CHANGE] });
      await q.query('SELECT pg_notify($1, $2)', [channel, payload]);
    },
    async subscribe(deliver) {
      await startListening(deliver, 0);
    },
    async close() {
      if (closed) return;
      closed = true;
      if (reconnectTimer !== undefined) clearTimeout(reconnectTimer);
      if (heartbeat !== undefined) clearInterval(heartbeat);
      const client = listener;
      listener = undefined;
      if (client !== undefined) {
        client.removeAllListeners('end');
        await client.end().catch(() => undefined);
      }
      await pool.end();
    },
  };
}

const KINDS: ReadonlySet<string> = new Set<StoreChangeKind>(['provider', 'route', 'sandbox', 'refresh', 'admin']);
const OPS: ReadonlySet<string> = new Set(['create', 'update', 'delete']);

/** Parses a NOTIFY payload; drops our own (already delivered in-process) and malformed entries. */
export function parseNotification(payload: string, self: string): StoreChange[] {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return [];
  }
  if (typeof value !== 'object' || value === null) return [];
  const { o, c } = value as { o?: unknown; c?: unknown };
  if (o === self || !Array.isArray(c)) return [];
  return c.filter(
    (x): x is StoreChange =>
      typeof x === 'object' && x !== null && KINDS.has(String(x.kind)) && typeof x.name === 'string' && OPS.has(String(x.op)),
  );
}

async function migratePostgres(pool: pg.Pool, schema: string, migrations: readonly Migration[]): Promise<void> {
  await inTransaction(pool, schema, async (q) => {
    // Replicas that start together serialize here, so the migrations run once.
    await q.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`openshell:migrate:${schema}`]);
    await q.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)}`);
    await applyMigrations(q, migrations, 'BIGINT');
  });
}
