import type { StoreChange } from './types.js';

/** A row as the driver returns it (column name → value). */
export type SqlRow = Record<string, unknown>;

/** Runs one statement. SQL is written with `$1…$n` placeholders and `{s}` before table names. */
export interface SqlExecutor {
  query(sql: string, params?: readonly unknown[]): Promise<{ rows: SqlRow[]; rowCount: number }>;
}

/** What a dialect adapter gives the shared SQL store. */
export interface SqlDriver extends SqlExecutor {
  readonly dialect: 'sqlite' | 'postgres';
  /** ` FOR UPDATE` on Postgres, empty on SQLite (whose write transactions are exclusive). */
  readonly forUpdate: string;
  /** ` FOR SHARE` on Postgres, empty on SQLite. */
  readonly forShare: string;
  /** Runs `fn` in one write transaction; errors roll back. Driver errors arrive classified. */
  transaction<T>(fn: (q: SqlExecutor) => Promise<T>): Promise<T>;
  /** Called inside the transaction before commit with its changes (Postgres: NOTIFY). */
  publish?(q: SqlExecutor, changes: readonly StoreChange[]): Promise<void>;
  /** Starts delivering other replicas' changes to `deliver` (Postgres LISTEN). */
  subscribe?(deliver: (changes: readonly StoreChange[]) => void): Promise<void>;
  close(): Promise<void>;
}
