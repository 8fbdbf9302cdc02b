export type * from './types.js';
export * from './errors.js';
export { classifyDriverError, toStoreError } from './classify-error.js';
export { openSqliteStore, restrictSqliteFiles, SQLITE_SIDECARS } from './sqlite-store.js';
export { openPostgresStore, changeChannel, DEFAULT_POSTGRES_SCHEMA, WILDCARD_CHANGE } from './postgres-store.js';
export { openStore, isPostgresUrl, SQLITE_FILE_NAME } from './open-store.js';
