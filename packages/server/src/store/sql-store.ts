import { randomUUID } from 'node:crypto';
import { CryptoError } from '../crypto/crypto-error.js';
import type { Sealer } from '../crypto/seal.js';
import { alreadyExistsError, conflictError, notFoundError, StoreError } from './errors.js';
import type { SqlDriver, SqlExecutor, SqlRow } from './sql-driver.js';
import type {
  BeginRefreshResult,
  CommitRefreshInput,
  CommitRefreshResult,
  DeleteProviderOptions,
  DeleteProviderResult,
  FailRefreshInput,
  FailRefreshResult,
  InferenceRouteRecord,
  NewProvider,
  NewSandbox,
  NewSandboxToken,
  ProviderRecord,
  ProviderUpdate,
  PutRefreshConfigInput,
  PutRouteInput,
  RefreshMaterial,
  RefreshState,
  RefreshStatus,
  SandboxRecord,
  SandboxToken,
  SandboxUpdate,
  Store,
  StoreChange,
  StoreChangeListener,
} from './types.js';

const META_KEK_CHECK = 'kek_check';
const META_ADMIN_TOKEN_HASH = 'admin_token_hash';

/** The AAD binding a provider's sealed credentials to its row. */
export function providerCredentialsAad(id: string, name: string): string {
  return `openshell:v1:providers:${id}:${name}:credentials`;
}

/** The AAD binding sealed refresh material to its (provider, key) row. */
export function refreshMaterialAad(provider: string, key: string): string {
  return `openshell:v1:refresh_states:${provider}:${key}:material`;
}

type Changed = (change: StoreChange) => void;

/**
 * The Store over any SQL driver: all record logic, sealing and CAS live here once; the adapters
 * (`sqlite-store.ts`, `postgres-store.ts`) provide connections, transactions and change delivery.
 */
export class SqlStore implements Store {
  readonly dialect: 'sqlite' | 'postgres';
  readonly #driver: SqlDriver;
  readonly #sealer: Sealer;
  readonly #clock: () => number;
  readonly #listeners = new Set<StoreChangeListener>();
  #closed = false;

  constructor(driver: SqlDriver, sealer: Sealer, clock: () => number) {
    this.dialect = driver.dialect;
    this.#driver = driver;
    this.#sealer = sealer;
    this.#clock = clock;
  }

  /** Stores the key check value on first open, or verifies it; then starts cross-replica delivery. */
  async init(): Promise<void> {
    await this.#driver.transaction(async (q) => {
      await q.query('INSERT INTO {s}meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [META_KEK_CHECK, this.#sealer.checkValue]);
    });
    const { rows } = await this.#driver.query('SELECT value FROM {s}meta WHERE key = $1', [META_KEK_CHECK]);
    const stored = rows[0]?.value;
    if (typeof stored !== 'string' || !this.#sealer.matchesCheckValue(stored)) {
      throw new StoreError(
        'key_mismatch',
        "this gateway's key-encryption key does not match the store's key check value: the database was sealed with another key. " +
          'Start with the original key; replicas sharing a database must share the key: set OPENSHELL_KEK or --kek-file',
      );
    }
    await this.#driver.subscribe?.((changes) => this.#deliver(changes));
  }

  // ---- lifecycle and change feed ---------------------------------------------------------------

  async ping(): Promise<void> {
    await this.#driver.query('SELECT 1 AS ok');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    await this.#driver.close();
  }

  watchChanges(listener: StoreChangeListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  #deliver(changes: readonly StoreChange[]): void {
    for (const change of changes) {
      for (const listener of [...this.#listeners]) {
        try {
          listener(change);
        } catch {
          // A listener's failure must not break the writer or other listeners.
        }
      }
    }
  }

  async #tx<T>(fn: (q: SqlExecutor, changed: Changed) => Promise<T>): Promise<T> {
    const changes: StoreChange[] = [];
    const result = await this.#driver.transaction(async (q) => {
      changes.length = 0; // a retried transaction starts over
      const value = await fn(q, (c) => changes.push(c));
      if (changes.length > 0 && this.#driver.publish) await this.#driver.publish(q, changes);
      return value;
    });
    this.#deliver(changes);
    return result;
  }

  #now(): number {
    return this.#clock();
  }

  #unseal(sealed: unknown, aad: string, what: string): string {
    try {
      return this.#sealer.open(String(sealed), aad);
    } catch (error) {
      if (error instanceof CryptoError) {
        throw new StoreError('corrupt', `${what} cannot be unsealed: it was tampered with, moved from another record, or sealed with another key`, { cause: error });
      }
      throw error;
    }
  }

  // ---- providers ----------------------------------------------------------------------------------

  #providerFromRow(row: SqlRow): ProviderRecord {
    const id = String(row.id);
    const name = String(row.name);
    return {
      id,
      name,
      type: String(row.type),
      credentials: parseStringMap(this.#unseal(row.credentials, providerCredentialsAad(id, name), `credentials of provider "${name}"`), name),
      config: parseStringMap(String(row.config), name),
      credentialExpiresAt: parseNumberMap(String(row.credential_expires_at), name),
      resourceVersion: Number(row.resource_version),
      createdAt: Number(row.created_at),
      updatedAt: Number(row.updated_at),
    };
  }

  #sealCredentials(id: string, name: string, credentials: Readonly<Record<string, string>>): string {
    return this.#sealer.seal(JSON.stringify(sortedObject(credentials)), providerCredentialsAad(id, name));
  }

  async createProvider(input: NewProvider): Promise<ProviderRecord> {
    const id = randomUUID();
    const now = this.#now();
    try {
      return await this.#tx(async (q, changed) => {
        const { rows } = await q.query(
          `INSERT INTO {s}providers (id, name, type, credentials, config, credential_expires_at, resource_version, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7) RETURNING *`,
          [
            id,
            input.name,
            input.type,
            this.#sealCredentials(id, input.name, input.credentials),
            JSON.stringify(sortedObject(input.config ?? {})),
            JSON.stringify(sortedObject(input.credentialExpiresAt ?? {})),
            now,
          ],
        );
        changed({ kind: 'provider', name: input.name, op: 'create' });
        return this.#providerFromRow(first(rows));
      });
    } catch (error) {
      if (StoreError.is(error, 'already_exists')) throw alreadyExistsError('provider', input.name);
      throw error;
    }
  }

  async getProvider(name: string): Promise<ProviderRecord | undefined> {
    const { rows } = await this.#driver.query('SELECT * FROM {s}providers WHERE name = $1', [name]);
    return rows[0] === undefined ? undefined : this.#providerFromRow(rows[0]);
  }

  async listProviders(): Promise<ProviderRecord[]> {
    const { rows } = await this.#driver.query('SELECT * FROM {s}providers ORDER BY name');
    return rows.map((row) => this.#providerFromRow(row));
  }

  async #lockProvider(q: SqlExecutor, name: string, expected: number | undefined): Promise<ProviderRecord> {
    const { rows } = await q.query(`SELECT * FROM {s}providers WHERE name = $1${this.#driver.forUpdate}`, [name]);
    if (rows[0] === undefined) throw notFoundError('provider', name);
    const current = this.#providerFromRow(rows[0]);
    if (expected !== undefined && current.resourceVersion !== expected) {
      throw conflictError('provider', name, expected, current.resourceVersion);
    }
    return current;
  }

  async updateProvider(name: string, update: ProviderUpdate): Promise<ProviderRecord> {
    return this.#tx(async (q, changed) => {
      const current = await this.#lockProvider(q, name, update.expectedResourceVersion);
      const record = await this.#writeProvider(q, current, {
        credentials: update.credentials ?? current.credentials,
        config: update.config ?? current.config,
        credentialExpiresAt: update.credentialExpiresAt ?? current.credentialExpiresAt,
      });
      changed({ kind: 'provider', name, op: 'update' });
      return record;
    });
  }

  async #writeProvider(
    q: SqlExecutor,
    current: ProviderRecord,
    next: Pick<ProviderRecord, 'credentials' | 'config' | 'credentialExpiresAt'>,
  ): Promise<ProviderRecord> {
    const { rows } = await q.query(
      `UPDATE {s}providers SET credentials = $1, config = $2, credential_expires_at = $3,
         resource_version = resource_version + 1, updated_at = $4
       WHERE id = $5 AND resource_version = $6 RETURNING *`,
      [
        this.#sealCredentials(current.id, current.name, next.credentials),
        JSON.stringify(sortedObject(next.config)),
        JSON.stringify(sortedObject(next.credentialExpiresAt)),
        Math.max(this.#now(), current.updatedAt),
        current.id,
        current.resourceVersion,
      ],
    );
    if (rows[0] === undefined) throw conflictError('provider', current.name, current.resourceVersion);
    return this.#providerFromRow(rows[0]);
  }

  async deleteProvider(name: string, options: DeleteProviderOptions = {}): Promise<DeleteProviderResult> {
    return this.#tx(async (q, changed) => {
      const current = await this.#lockProvider(q, name, options.expectedResourceVersion);
      const routes = (await q.query('SELECT name FROM {s}inference_routes WHERE provider = $1 ORDER BY name', [name])).rows.map((r) => String(r.name));
      const sandboxes = (
        await q.query(
          `SELECT s.id, s.name FROM {s}sandboxes s JOIN {s}sandbox_providers b ON b.sandbox_id = s.id
           WHERE b.provider = $1 ORDER BY s.name`,
          [name],
        )
      ).rows.map((r) => ({ id: String(r.id), name: String(r.name) }));
      if ((routes.length > 0 || sandboxes.length > 0) && options.force !== true) {
        const uses = [
          routes.length > 0 ? `inference route(s) ${routes.map((r) => `"${r}"`).join(', ')}` : '',
          sandboxes.length > 0 ? `sandbox(es) ${sandboxes.map((s) => `"${s.name}"`).join(', ')}` : '',
        ].filter(Boolean);
        throw new StoreError(
          'in_use',
          `provider "${name}" is used by ${uses.join(' and ')}: delete the routes and unbind it from the sandboxes first, or delete with force`,
          { details: { kind: 'provider', name, routes, sandboxes: sandboxes.map((s) => s.name) } },
        );
      }
      const now = this.#now();
      await q.query('DELETE FROM {s}inference_routes WHERE provider = $1', [name]);
      for (const sandbox of sandboxes) {
        await q.query('DELETE FROM {s}sandbox_providers WHERE sandbox_id = $1 AND provider = $2', [sandbox.id, name]);
        await q.query('UPDATE {s}sandboxes SET resource_version = resource_version + 1, updated_at = $1 WHERE id = $2', [now, sandbox.id]);
      }
      const refresh = await q.query('DELETE FROM {s}refresh_states WHERE provider = $1', [name]);
      await q.query('DELETE FROM {s}providers WHERE id = $1', [current.id]);
      for (const route of routes) changed({ kind: 'route', name: route, op: 'delete' });
      for (const sandbox of sandboxes) changed({ kind: 'sandbox', name: sandbox.name, op: 'update' });
      if (refresh.rowCount > 0) changed({ kind: 'refresh', name, op: 'delete' });
      changed({ kind: 'provider', name, op: 'delete' });
      return { deletedRoutes: routes, unboundSandboxes: sandboxes.map((s) => s.name) };
    });
  }

  async #requireProvider(q: SqlExecutor, name: string): Promise<void> {
    const { rows } = await q.query(`SELECT id FROM {s}providers WHERE name = $1${this.#driver.forShare}`, [name]);
    if (rows[0] === undefined) {
      throw new StoreError('not_found', `provider "${name}" does not exist: create it first`, { details: { kind: 'provider', name, provider: name } });
    }
  }

  // ---- inference routes ---------------------------------------------------------------------------

  async putRoute(input: PutRouteInput): Promise<InferenceRouteRecord> {
    return this.#tx(async (q, changed) => {
      await this.#requireProvider(q, input.provider);
      const existing = (await q.query(`SELECT resource_version FROM {s}inference_routes WHERE name = $1${this.#driver.forUpdate}`, [input.name])).rows[0];
      const now = this.#now();
      const model = input.model ?? null;
      const timeout = input.timeoutSeconds ?? null;
      let rows: SqlRow[];
      if (input.expectedResourceVersion !== undefined) {
        if (existing === undefined) throw notFoundError('inference route', input.name);
        const current = Number(existing.resource_version);
        if (current !== input.expectedResourceVersion) throw conflictError('inference route', input.name, input.expectedResourceVersion, current);
        ({ rows } = await q.query(
          `UPDATE {s}inference_routes SET provider = $1, model = $2, timeout_seconds = $3, resource_version = resource_version + 1, updated_at = $4
           WHERE name = $5 AND resource_version = $6 RETURNING *`,
          [input.provider, model, timeout, now, input.name, current],
        ));
        if (rows[0] === undefined) throw conflictError('inference route', input.name, current);
      } else {
        ({ rows } = await q.query(
          `INSERT INTO {s}inference_routes AS r (name, provider, model, timeout_seconds, resource_version, created_at, updated_at)
           VALUES ($1, $2, $3, $4, 1, $5, $5)
           ON CONFLICT (name) DO UPDATE SET provider = excluded.provider, model = excluded.model,
             timeout_seconds = excluded.timeout_seconds, resource_version = r.resource_version + 1,
             updated_at = excluded.updated_at
           RETURNING *`,
          [input.name, input.provider, model, timeout, now],
        ));
      }
      changed({ kind: 'route', name: input.name, op: existing === undefined ? 'create' : 'update' });
      return routeFromRow(first(rows));
    });
  }

  async getRoute(name: string): Promise<InferenceRouteRecord | undefined> {
    const { rows } = await this.#driver.query('SELECT * FROM {s}inference_routes WHERE name = $1', [name]);
    return rows[0] === undefined ? undefined : routeFromRow(rows[0]);
  }

  async listRoutes(): Promise<InferenceRouteRecord[]> {
    const { rows } = await this.#driver.query('SELECT * FROM {s}inference_routes ORDER BY name');
    return rows.map(routeFromRow);
  }

  async deleteRoute(name: string, expectedResourceVersion?: number): Promise<void> {
    await this.#tx(async (q, changed) => {
      const row = (await q.query(`SELECT resource_version FROM {s}inference_routes WHERE name = $1${this.#driver.forUpdate}`, [name])).rows[0];
      if (row === undefined) throw notFoundError('inference route', name);
      const current = Number(row.resource_version);
      if (expectedResourceVersion !== undefined && current !== expectedResourceVersion) {
        throw conflictError('inference route', name, expectedResourceVersion, current);
      }
      await q.query('DELETE FROM {s}inference_routes WHERE name = $1 AND resource_version = $2', [name, current]);
      changed({ kind: 'route', name, op: 'delete' });
    });
  }

  // ---- sandboxes ----------------------------------------------------------------------------------

  async #sandboxesFromRows(q: SqlExecutor, rows: SqlRow[]): Promise<SandboxRecord[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => String(r.id));
    const bindings = await q.query(
      `SELECT sandbox_id, provider FROM {s}sandbox_providers WHERE sandbox_id IN (${ids.map((_, i) => `$${i + 1}`).join(', ')})
       ORDER BY sandbox_id, position`,
      ids,
    );
    const byId = new Map<string, string[]>();
    for (const b of bindings.rows) {
      const list = byId.get(String(b.sandbox_id)) ?? [];
      list.push(String(b.provider));
      byId.set(String(b.sandbox_id), list);
    }
    return rows.map((row) => ({
      id: String(row.id),
      name: String(row.name),
      providers: byId.get(String(row.id)) ?? [],
      resourceVersion: Number(row.resource_version),
      createdAt: Number(row.created_at),
      updatedAt: Number(row.updated_at),
    }));
  }

  async #bindProviders(q: SqlExecutor, sandboxId: string, providers: readonly string[]): Promise<void> {
    const unique = [...new Set(providers)];
    for (const provider of unique) await this.#requireProvider(q, provider);
    await q.query('DELETE FROM {s}sandbox_providers WHERE sandbox_id = $1', [sandboxId]);
    for (const [position, provider] of unique.entries()) {
      await q.query('INSERT INTO {s}sandbox_providers (sandbox_id, provider, position) VALUES ($1, $2, $3)', [sandboxId, provider, position]);
    }
  }

  async createSandbox(input: NewSandbox): Promise<SandboxRecord> {
    const id = randomUUID();
    try {
      return await this.#tx(async (q, changed) => {
        const { rows } = await q.query(
          'INSERT INTO {s}sandboxes (id, name, resource_version, created_at, updated_at) VALUES ($1, $2, 1, $3, $3) RETURNING *',
          [id, input.name, this.#now()],
        );
        await this.#bindProviders(q, id, input.providers);
        changed({ kind: 'sandbox', name: input.name, op: 'create' });
        return first(await this.#sandboxesFromRows(q, rows));
      });
    } catch (error) {
      if (StoreError.is(error, 'already_exists')) throw alreadyExistsError('sandbox', input.name);
      throw error;
    }
  }

  async getSandbox(name: string): Promise<SandboxRecord | undefined> {
    const { rows } = await this.#driver.query('SELECT * FROM {s}sandboxes WHERE name = $1', [name]);
    return (await this.#sandboxesFromRows(this.#driver, rows))[0];
  }

  async listSandboxes(): Promise<SandboxRecord[]> {
    const { rows } = await this.#driver.query('SELECT * FROM {s}sandboxes ORDER BY name');
    return this.#sandboxesFromRows(this.#driver, rows);
  }

  async #lockSandbox(q: SqlExecutor, name: string, expected: number | undefined): Promise<{ id: string; version: number }> {
    const row = (await q.query(`SELECT id, resource_version FROM {s}sandboxes WHERE name = $1${this.#driver.forUpdate}`, [name])).rows[0];
    if (row === undefined) throw notFoundError('sandbox', name);
    const version = Number(row.resource_version);
    if (expected !== undefined && version !== expected) throw conflictError('sandbox', name, expected, version);
    return { id: String(row.id), version };
  }

  async updateSandbox(name: string, update: SandboxUpdate): Promise<SandboxRecord> {
    return this.#tx(async (q, changed) => {
      const { id, version } = await this.#lockSandbox(q, name, update.expectedResourceVersion);
      await this.#bindProviders(q, id, update.providers);
      const { rows } = await q.query(
        'UPDATE {s}sandboxes SET resource_version = resource_version + 1, updated_at = $1 WHERE id = $2 AND resource_version = $3 RETURNING *',
        [this.#now(), id, version],
      );
      if (rows[0] === undefined) throw conflictError('sandbox', name, version);
      changed({ kind: 'sandbox', name, op: 'update' });
      return first(await this.#sandboxesFromRows(q, rows));
    });
  }

  async deleteSandbox(name: string, expectedResourceVersion?: number): Promise<void> {
    await this.#tx(async (q, changed) => {
      const { id } = await this.#lockSandbox(q, name, expectedResourceVersion);
      // Explicit deletes (not only ON DELETE CASCADE) so a token can never outlive its sandbox.
      await q.query('DELETE FROM {s}sandbox_tokens WHERE sandbox_id = $1', [id]);
      await q.query('DELETE FROM {s}sandbox_providers WHERE sandbox_id = $1', [id]);
      await q.query('DELETE FROM {s}sandboxes WHERE id = $1', [id]);
      changed({ kind: 'sandbox', name, op: 'delete' });
    });
  }

  // ---- sandbox tokens -----------------------------------------------------------------------------

  async createSandboxToken(input: NewSandboxToken): Promise<SandboxToken> {
    return this.#tx(async (q) => {
      const sandbox = (await q.query(`SELECT id FROM {s}sandboxes WHERE name = $1${this.#driver.forShare}`, [input.sandbox])).rows[0];
      if (sandbox === undefined) throw notFoundError('sandbox', input.sandbox);
      const token: SandboxToken = {
        id: randomUUID(),
        sandbox: input.sandbox,
        hash: input.hash,
        createdAt: this.#now(),
        ...(input.expiresAt === undefined ? {} : { expiresAt: input.expiresAt }),
      };
      await q.query('INSERT INTO {s}sandbox_tokens (id, sandbox_id, hash, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)', [
        token.id,
        String(sandbox.id),
        token.hash,
        token.expiresAt ?? null,
        token.createdAt,
      ]);
      return token;
    });
  }

  async findSandboxToken(hash: string): Promise<{ token: SandboxToken; sandbox: SandboxRecord } | undefined> {
    const { rows } = await this.#driver.query(
      `SELECT t.id AS token_id, t.hash, t.expires_at, t.created_at AS token_created_at, s.*
       FROM {s}sandbox_tokens t JOIN {s}sandboxes s ON s.id = t.sandbox_id
       WHERE t.hash = $1 AND (t.expires_at IS NULL OR t.expires_at > $2)`,
      [hash, this.#now()],
    );
    const row = rows[0];
    if (row === undefined) return undefined;
    const sandbox = first(await this.#sandboxesFromRows(this.#driver, [row]));
    return {
      sandbox,
      token: tokenFromRow({ id: row.token_id, hash: row.hash, expires_at: row.expires_at, created_at: row.token_created_at }, sandbox.name),
    };
  }

  async listSandboxTokens(sandbox: string): Promise<SandboxToken[]> {
    const { rows } = await this.#driver.query(
      `SELECT t.* FROM {s}sandbox_tokens t JOIN {s}sandboxes s ON s.id = t.sandbox_id WHERE s.name = $1 ORDER BY t.created_at, t.id`,
      [sandbox],
    );
    return rows.map((row) => tokenFromRow(row, sandbox));
  }

  async deleteSandboxToken(id: string): Promise<void> {
    const { rowCount } = await this.#driver.transaction((q) => q.query('DELETE FROM {s}sandbox_tokens WHERE id = $1', [id]));
    if (rowCount === 0) throw notFoundError('sandbox token', id);
  }

  async pruneExpiredSandboxTokens(now: number = this.#now()): Promise<number> {
    const { rowCount } = await this.#driver.transaction((q) =>
      q.query('DELETE FROM {s}sandbox_tokens WHERE expires_at IS NOT NULL AND expires_at <= $1', [now]),
    );
    return rowCount;
  }

  // ---- admin token --------------------------------------------------------------------------------

  async getAdminTokenHash(): Promise<string | undefined> {
    const { rows } = await this.#driver.query('SELECT value FROM {s}meta WHERE key = $1', [META_ADMIN_TOKEN_HASH]);
    return rows[0] === undefined ? undefined : String(rows[0].value);
  }

  async setAdminTokenHash(hash: string, options: { onlyIfAbsent?: boolean } = {}): Promise<boolean> {
    return this.#tx(async (q, changed) => {
      const conflict = options.onlyIfAbsent === true ? 'DO NOTHING' : 'DO UPDATE SET value = excluded.value';
      const { rowCount } = await q.query(`INSERT INTO {s}meta (key, value) VALUES ($1, $2) ON CONFLICT (key) ${conflict}`, [META_ADMIN_TOKEN_HASH, hash]);
      if (rowCount > 0) changed({ kind: 'admin', name: 'admin-token', op: 'update' });
      return rowCount > 0;
    });
  }

  // ---- credential refresh -------------------------------------------------------------------------

  async #lockRefresh(q: SqlExecutor, provider: string, key: string): Promise<SqlRow | undefined> {
    return (await q.query(`SELECT * FROM {s}refresh_states WHERE provider = $1 AND key = $2${this.#driver.forUpdate}`, [provider, key])).rows[0];
  }

  #material(row: SqlRow): RefreshMaterial {
    const provider = String(row.provider);
    const key = String(row.key);
    const text = this.#unseal(row.material, refreshMaterialAad(provider, key), `refresh material of "${provider}" ${key}`);
    const parsed = parseStringMap(text, provider);
    const refreshToken = parsed.refresh_token;
    if (refreshToken === undefined) throw new StoreError('corrupt', `refresh material of "${provider}" ${key} has no refresh_token: configure refresh again`);
    return {
      refresh_token: refreshToken,
      ...(parsed.client_id === undefined ? {} : { client_id: parsed.client_id }),
      ...(parsed.client_secret === undefined ? {} : { client_secret: parsed.client_secret }),
    };
  }

  #sealMaterial(provider: string, key: string, material: RefreshMaterial): string {
    const plain: Record<string, string> = { refresh_token: material.refresh_token };
    if (material.client_id !== undefined) plain.client_id = material.client_id;
    if (material.client_secret !== undefined) plain.client_secret = material.client_secret;
    return this.#sealer.seal(JSON.stringify(plain), refreshMaterialAad(provider, key));
  }

  async putRefreshConfig(input: PutRefreshConfigInput): Promise<RefreshState> {
    try {
      return await this.#tx(async (q, changed) => {
        await this.#requireProvider(q, input.provider);
        const existing = await this.#lockRefresh(q, input.provider, input.key);
        const now = this.#now();
        const sealed = this.#sealMaterial(input.provider, input.key, input.material);
        const next = input.nextRefreshAt ?? null;
        let rows: SqlRow[];
        if (existing === undefined) {
          if (input.expectedConfigVersion !== undefined) throw notFoundError('refresh configuration', `${input.provider}/${input.key}`);
          ({ rows } = await q.query(
            `INSERT INTO {s}refresh_states (provider, key, strategy, material, status, next_refresh_at, consecutive_failures,
               config_version, resource_version, created_at, updated_at)
             VALUES ($1, $2, $3, $4, 'configured', $5, 0, 1, 1, $6, $6) RETURNING *`,
            [input.provider, input.key, input.strategy, sealed, next, now],
          ));
        } else {
          const current = Number(existing.config_version);
          if (input.expectedConfigVersion !== undefined && current !== input.expectedConfigVersion) {
            throw conflictError('refresh configuration', `${input.provider}/${input.key}`, input.expectedConfigVersion, current);
          }
          ({ rows } = await q.query(
            `UPDATE {s}refresh_states SET strategy = $1, material = $2, status = 'configured', next_refresh_at = $3,
               consecutive_failures = 0, last_error = NULL, in_flight_owner = NULL, in_flight_started_at = NULL,
               lease_owner = NULL, lease_expires_at = NULL, config_version = config_version + 1,
               resource_version = resource_version + 1, updated_at = $4
             WHERE provider = $5 AND key = $6 RETURNING *`,
            [input.strategy, sealed, next, now, input.provider, input.key],
          ));
        }
        changed({ kind: 'refresh', name: input.provider, op: existing === undefined ? 'create' : 'update' });
        return refreshStateFromRow(first(rows));
      });
    } catch (error) {
      if (StoreError.is(error, 'already_exists')) {
        const name = `${input.provider}/${input.key}`;
        throw new StoreError('conflict', `refresh configuration "${name}" was created concurrently: re-read it and retry with its current configVersion`, {
          details: { kind: 'refresh configuration', name },
        });
      }
      throw error;
    }
  }

  async getRefreshState(provider: string, key: string): Promise<RefreshState | undefined> {
    const { rows } = await this.#driver.query('SELECT * FROM {s}refresh_states WHERE provider = $1 AND key = $2', [provider, key]);
    return rows[0] === undefined ? undefined : refreshStateFromRow(rows[0]);
  }

  async listRefreshStates(provider?: string): Promise<RefreshState[]> {
    const { rows } =
      provider === undefined
        ? await this.#driver.query('SELECT * FROM {s}refresh_states ORDER BY provider, key')
        : await this.#driver.query('SELECT * FROM {s}refresh_states WHERE provider = $1 ORDER BY key', [provider]);
    return rows.map(refreshStateFromRow);
  }

  async deleteRefreshConfig(provider: string, key: string, expectedConfigVersion?: number): Promise<void> {
    await this.#tx(async (q, changed) => {
      const row = await this.#lockRefresh(q, provider, key);
      if (row === undefined) throw notFoundError('refresh configuration', `${provider}/${key}`);
      const current = Number(row.config_version);
      if (expectedConfigVersion !== undefined && current !== expectedConfigVersion) {
        throw conflictError('refresh configuration', `${provider}/${key}`, expectedConfigVersion, current);
      }
      await q.query('DELETE FROM {s}refresh_states WHERE provider = $1 AND key = $2', [provider, key]);
      changed({ kind: 'refresh', name: provider, op: 'delete' });
    });
  }

  async beginRefresh(provider: string, key: string, owner: string, leaseMs: number): Promise<BeginRefreshResult> {
    return this.#tx(async (q) => {
      const row = await this.#lockRefresh(q, provider, key);
      if (row === undefined) throw notFoundError('refresh configuration', `${provider}/${key}`);
      const now = this.#now();
      const state = refreshStateFromRow(row);
      const leaseLive = state.leaseOwner !== undefined && state.leaseExpiresAt !== undefined && state.leaseExpiresAt > now;
      if (leaseLive && state.leaseOwner !== owner) return { outcome: 'busy', state };
      if (state.inFlight !== undefined && state.inFlight.owner !== owner && !leaseLive) return { outcome: 'stale', state };
      // The WHERE repeats the checks so the write is atomic even where row locks are absent.
      const { rows } = await q.query(
        `UPDATE {s}refresh_states SET lease_owner = $1, lease_expires_at = $2, in_flight_owner = $1, in_flight_started_at = $3,
           resource_version = resource_version + 1, updated_at = $3
         WHERE provider = $4 AND key = $5 AND resource_version = $6 RETURNING *`,
        [owner, now + Math.max(0, leaseMs), now, provider, key, state.resourceVersion],
      );
      const updated = rows[0];
      if (updated === undefined) return { outcome: 'busy', state };
      return { outcome: 'acquired', state: refreshStateFromRow(updated), material: this.#material(updated) };
    });
  }

  async commitRefresh(provider: string, key: string, input: CommitRefreshInput): Promise<CommitRefreshResult> {
    return this.#tx(async (q, changed): Promise<CommitRefreshResult> => {
      // Lock order everywhere: provider row first, then its refresh rows (no deadlock with delete).
      const current = (await q.query(`SELECT * FROM {s}providers WHERE name = $1${this.#driver.forUpdate}`, [provider])).rows[0];
      if (current === undefined) return { outcome: 'discarded', reason: 'provider_deleted' };
      const row = await this.#lockRefresh(q, provider, key);
      if (row === undefined) return { outcome: 'discarded', reason: 'config_deleted' };
      if (Number(row.config_version) !== input.expectedConfigVersion) return { outcome: 'discarded', reason: 'config_changed' };
      const record = this.#providerFromRow(current);
      const expiries: Record<string, number> = { ...record.credentialExpiresAt };
      if (input.expiresAt === undefined) delete expiries[key];
      else expiries[key] = input.expiresAt;
      const updatedProvider = await this.#writeProvider(q, record, {
        credentials: { ...record.credentials, [key]: input.accessToken },
        config: record.config,
        credentialExpiresAt: expiries,
      });
      const material = input.refreshToken === undefined ? String(row.material) : this.#sealMaterial(provider, key, { ...this.#material(row), refresh_token: input.refreshToken });
      const now = this.#now();
      // The commit is the truth: every lease and marker is cleared, so a concurrent holder's
      // later failRefresh (its marker gone) is discarded instead of overwriting this success.
      const { rows } = await q.query(
        `UPDATE {s}refresh_states SET material = $1, status = 'refreshed', last_refresh_at = $2, next_refresh_at = $3,
           consecutive_failures = 0, last_error = NULL, in_flight_owner = NULL, in_flight_started_at = NULL,
           lease_owner = NULL, lease_expires_at = NULL, resource_version = resource_version + 1, updated_at = $2
         WHERE provider = $4 AND key = $5 RETURNING *`,
        [material, now, input.nextRefreshAt ?? null, provider, key],
      );
      changed({ kind: 'provider', name: provider, op: 'update' });
      changed({ kind: 'refresh', name: provider, op: 'update' });
      return { outcome: 'committed', state: refreshStateFromRow(first(rows)), provider: updatedProvider };
    });
  }

  async failRefresh(provider: string, key: string, input: FailRefreshInput): Promise<FailRefreshResult> {
    return this.#tx(async (q, changed): Promise<FailRefreshResult> => {
      const row = await this.#lockRefresh(q, provider, key);
      if (row === undefined) return { outcome: 'discarded', reason: 'config_deleted' };
      if (Number(row.config_version) !== input.expectedConfigVersion) return { outcome: 'discarded', reason: 'config_changed' };
      if (row.in_flight_owner !== input.owner) return { outcome: 'discarded', reason: 'lease_lost' };
      const { rows } = await q.query(
        `UPDATE {s}refresh_states SET status = $1, last_error = $2, next_refresh_at = $3, consecutive_failures = $4,
           in_flight_owner = NULL, in_flight_started_at = NULL, lease_owner = NULL, lease_expires_at = NULL,
           resource_version = resource_version + 1, updated_at = $5
         WHERE provider = $6 AND key = $7 RETURNING *`,
        [input.status, input.lastError, input.nextRefreshAt ?? null, input.consecutiveFailures, this.#now(), provider, key],
      );
      changed({ kind: 'refresh', name: provider, op: 'update' });
      return { outcome: 'recorded', state: refreshStateFromRow(first(rows)) };
    });
  }

  async releaseRefresh(provider: string, key: string, owner: string): Promise<boolean> {
    const { rowCount } = await this.#driver.transaction((q) =>
      q.query(
        `UPDATE {s}refresh_states SET in_flight_owner = NULL, in_flight_started_at = NULL, lease_owner = NULL, lease_expires_at = NULL,
           resource_version = resource_version + 1, updated_at = $1
         WHERE provider = $2 AND key = $3 AND (in_flight_owner = $4 OR lease_owner = $4)`,
        [this.#now(), provider, key, owner],
      ),
    );
    return rowCount > 0;
  }

  async listDueRefreshes(now: number = this.#now()): Promise<RefreshState[]> {
    const { rows } = await this.#driver.query(
      `SELECT * FROM {s}refresh_states
       WHERE status <> 'reauth_required' AND next_refresh_at IS NOT NULL AND next_refresh_at <= $1
         AND in_flight_owner IS NULL AND (lease_owner IS NULL OR lease_expires_at IS NULL OR lease_expires_at <= $1)
       ORDER BY next_refresh_at, provider, key`,
      [now],
    );
    return rows.map(refreshStateFromRow);
  }

  async listStaleRefreshes(now: number = this.#now()): Promise<RefreshState[]> {
    const { rows } = await this.#driver.query(
      `SELECT * FROM {s}refresh_states
       WHERE in_flight_owner IS NOT NULL AND (lease_expires_at IS NULL OR lease_expires_at <= $1)
       ORDER BY provider, key`,
      [now],
    );
    return rows.map(refreshStateFromRow);
  }
}

// ---- row mapping (pure) -----------------------------------------------------------------------------

function first<T>(rows: readonly T[]): T {
  const row = rows[0];
  if (row === undefined) throw new StoreError('corrupt', 'store: a write returned no row');
  return row;
}

function optionalNumber(value: unknown): number | undefined {
  return value === null || value === undefined ? undefined : Number(value);
}

function optionalString(value: unknown): string | undefined {
  return value === null || value === undefined ? undefined : String(value);
}

function sortedObject<V>(map: Readonly<Record<string, V>>): Record<string, V> {
  const out: Record<string, V> = {};
  for (const key of Object.keys(map).sort()) out[key] = map[key] as V;
  return out;
}

function parseJsonObject(text: string, owner: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new StoreError('corrupt', `stored data of "${owner}" is not valid JSON`, { cause });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new StoreError('corrupt', `stored data of "${owner}" is not an object`);
  return value as Record<string, unknown>;
}

function parseStringMap(text: string, owner: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parseJsonObject(text, owner))) {
    if (typeof v !== 'string') throw new StoreError('corrupt', `stored data of "${owner}" has a non-string value for ${k}`);
    out[k] = v;
  }
  return out;
}

function parseNumberMap(text: string, owner: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(parseJsonObject(text, owner))) {
    if (typeof v !== 'number') throw new StoreError('corrupt', `stored data of "${owner}" has a non-number value for ${k}`);
    out[k] = v;
  }
  return out;
}

function routeFromRow(row: SqlRow): InferenceRouteRecord {
  const model = optionalString(row.model);
  const timeoutSeconds = optionalNumber(row.timeout_seconds);
  return {
    name: String(row.name),
    provider: String(row.provider),
    ...(model === undefined ? {} : { model }),
    ...(timeoutSeconds === undefined ? {} : { timeoutSeconds }),
    resourceVersion: Number(row.resource_version),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function tokenFromRow(row: SqlRow, sandbox: string): SandboxToken {
  const expiresAt = optionalNumber(row.expires_at);
  return {
    id: String(row.id),
    sandbox,
    hash: String(row.hash),
    ...(expiresAt === undefined ? {} : { expiresAt }),
    createdAt: Number(row.created_at),
  };
}

const STATUSES: ReadonlySet<string> = new Set<RefreshStatus>(['configured', 'refreshed', 'error', 'reauth_required']);

function refreshStateFromRow(row: SqlRow): RefreshState {
  const status = String(row.status);
  if (!STATUSES.has(status)) throw new StoreError('corrupt', `refresh state of "${String(row.provider)}" has an unknown status`);
  const inFlightOwner = optionalString(row.in_flight_owner);
  const inFlightStartedAt = optionalNumber(row.in_flight_started_at);
  const optional = {
    lastRefreshAt: optionalNumber(row.last_refresh_at),
    nextRefreshAt: optionalNumber(row.next_refresh_at),
    lastError: optionalString(row.last_error),
    leaseOwner: optionalString(row.lease_owner),
    leaseExpiresAt: optionalNumber(row.lease_expires_at),
  };
  const state: Record<string, unknown> = {
    provider: String(row.provider),
    key: String(row.key),
    strategy: String(row.strategy),
    status,
    consecutiveFailures: Number(row.consecutive_failures),
    configVersion: Number(row.config_version),
    resourceVersion: Number(row.resource_version),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
  for (const [k, v] of Object.entries(optional)) if (v !== undefined) state[k] = v;
  if (inFlightOwner !== undefined) state.inFlight = { owner: inFlightOwner, startedAt: inFlightStartedAt ?? 0 };
  return state as unknown as RefreshState;
}
