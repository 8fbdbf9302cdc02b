import { join } from 'node:path';
import { StoreError } from './errors.js';
import { openPostgresStore } from './postgres-store.js';
import { openSqliteStore } from './sqlite-store.js';
import type { OpenStoreOptions, Store } from './types.js';

/** File name of the embedded SQLite database inside the gateway data dir. */
export const SQLITE_FILE_NAME = 'gateway.db';

/** True when `url` names a Postgres database (`postgres://` or `postgresql://`). */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/**
 * Opens the store the gateway was configured with: Postgres when `databaseUrl` is a postgres URL,
 * otherwise SQLite (`databaseUrl` as `sqlite:PATH`, else `<dataDir>/gateway.db`).
 */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const common = { kek: options.kek, ...(options.clock === undefined ? {} : { clock: options.clock }) };
  const url = options.databaseUrl;
  if (url !== undefined && isPostgresUrl(url)) {
    return openPostgresStore({ ...common, url, ...(options.schema === undefined ? {} : { schema: options.schema }) });
  }
  if (url !== undefined && !url.startsWith('sqlite:')) {
    throw new StoreError('unavailable', `unsupported database URL scheme in --database-url: use postgres://… or sqlite:PATH (or omit it for ${SQLITE_FILE_NAME} in the data dir)`);
  }
  const file = url !== undefined ? url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '') : join(options.dataDir, SQLITE_FILE_NAME);
  return openSqliteStore({ ...common, file });
}
