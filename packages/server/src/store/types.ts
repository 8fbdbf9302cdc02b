/**
 * The gateway's storage contract. Two adapters implement it (SQLite: `openSqliteStore`, Postgres:
 * `openPostgresStore`) and one contract suite (`store-contract.ts`) runs against both.
 *
 * Conventions:
 * - Every method is async, so both adapters fit. Times are epoch milliseconds.
 * - Every record carries a `resourceVersion` (1 on create, +1 on every write). Every update and
 *   delete is compare-and-swap on it: a lost race throws `StoreError` with code `conflict`.
 * - Missing records: getters return `undefined`; writers throw `not_found`. Creating an existing
 *   name throws `already_exists`. Driver failures are mapped to `unavailable | busy | corrupt`.
 * - Secret values (provider credentials, refresh material) are plain strings in these records: the
 *   store seals them (AES-256-GCM under the KEK) on the way in and opens them on the way out. The
 *   database never holds one in clear. Never log a record that carries credentials or material.
 */

/** Canonical credential key, e.g. `ANTHROPIC_OAUTH_TOKEN`. */
export type CredentialKey = string;

/** A provider (DESIGN §3.3). `credentials` are plain values, sealed at rest by the store. */
export interface ProviderRecord {
  /** Stable id (UUID), never reused; also bound into the sealed ciphertext's AAD. */
  readonly id: string;
  /** Unique name; immutable. */
  readonly name: string;
  /** Canonical provider type (normalized by the caller through `core`). */
  readonly type: string;
  /** Secret values by credential key (plain here; sealed in the database). */
  readonly credentials: Readonly<Record<CredentialKey, string>>;
  /** Non-secret configuration (base URLs and the like). */
  readonly config: Readonly<Record<string, string>>;
  /** Expiry of a credential value, per key, when known. */
  readonly credentialExpiresAt: Readonly<Record<CredentialKey, number>>;
  readonly resourceVersion: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** Input of `createProvider`. */
export interface NewProvider {
  readonly name: string;
  readonly type: string;
  readonly credentials: Readonly<Record<CredentialKey, string>>;
  readonly config?: Readonly<Record<string, string>>;
  readonly credentialExpiresAt?: Readonly<Record<CredentialKey, number>>;
}

/**
 * Input of `updateProvider`: each field given REPLACES the stored one whole (the caller merges:
 * read, merge, write back with the version it read). Omitted fields are kept. `type` is immutable.
 */
export interface ProviderUpdate {
  readonly expectedResourceVersion: number;
  readonly credentials?: Readonly<Record<CredentialKey, string>>;
  readonly config?: Readonly<Record<string, string>>;
  readonly credentialExpiresAt?: Readonly<Record<CredentialKey, number>>;
}

/** Options of `deleteProvider`. */
export interface DeleteProviderOptions {
  /** CAS version; omitted = delete whatever version is current (API DELETE without a version). */
  readonly expectedResourceVersion?: number;
  /**
   * Without `force`, a provider used by an inference route or bound to a sandbox is not deleted:
   * `StoreError` code `in_use` with `details.routes` and `details.sandboxes`. With `force`, the
   * routes using it are deleted and it is unbound from every sandbox (their versions bump), in the
   * same transaction. Its refresh configurations are always deleted with it.
   */
  readonly force?: boolean;
}

/** What `deleteProvider` removed besides the provider itself. */
export interface DeleteProviderResult {
  readonly deletedRoutes: readonly string[];
  readonly unboundSandboxes: readonly string[];
}

/** A named inference route (`inference.local` by default) pointing at a provider. */
export interface InferenceRouteRecord {
  readonly name: string;
  /** Provider name; the provider must exist (foreign key). */
  readonly provider: string;
  readonly model?: string;
  readonly timeoutSeconds?: number;
  readonly resourceVersion: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** Input of `putRoute`. */
export interface PutRouteInput {
  readonly name: string;
  readonly provider: string;
  readonly model?: string;
  readonly timeoutSeconds?: number;
  /**
   * When given: CAS update of an existing route (`not_found` when absent, `conflict` when the
   * version differs). When omitted: create, or replace whatever is there (PUT semantics).
   */
  readonly expectedResourceVersion?: number;
}

/** A sandbox record: name and bound providers (in binding order). */
export interface SandboxRecord {
  readonly id: string;
  readonly name: string;
  /** Bound provider names, in order; each must exist (foreign key). */
  readonly providers: readonly string[];
  readonly resourceVersion: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** Input of `createSandbox`. An unknown provider throws `not_found` with `details.provider`. */
export interface NewSandbox {
  readonly name: string;
  readonly providers: readonly string[];
}

/** Input of `updateSandbox`: the complete new list of bound providers. */
export interface SandboxUpdate {
  readonly expectedResourceVersion: number;
  readonly providers: readonly string[];
}

/** A sandbox token: only its hash is stored (see `hashToken` in crypto). */
export interface SandboxToken {
  readonly id: string;
  /** Sandbox name. */
  readonly sandbox: string;
  /** Hash of the token (hex); lookups are by hash. */
  readonly hash: string;
  readonly expiresAt?: number;
  readonly createdAt: number;
}

/** Input of `createSandboxToken`. */
export interface NewSandboxToken {
  readonly sandbox: string;
  readonly hash: string;
  readonly expiresAt?: number;
}

/** Refresh status per credential (DESIGN §5). */
export type RefreshStatus = 'configured' | 'refreshed' | 'error' | 'reauth_required';

/** Secret refresh material (plain here; sealed at rest). */
export interface RefreshMaterial {
  readonly refresh_token: string;
  readonly client_id?: string;
  readonly client_secret?: string;
}

/** A durable marker written by `beginRefresh` and cleared by `commitRefresh`/`failRefresh`. */
export interface RefreshInFlight {
  readonly startedAt: number;
  readonly owner: string;
}

/**
 * Refresh configuration and status of one (provider, credential key), WITHOUT its material
 * (safe to show after dropping nothing: it holds no secret). `lastError` must never contain one.
 */
export interface RefreshState {
  readonly provider: string;
  readonly key: CredentialKey;
  /** e.g. `oauth2_refresh_token`. */
  readonly strategy: string;
  readonly status: RefreshStatus;
  readonly lastRefreshAt?: number;
  /** When the scheduler should refresh next; unset = not scheduled (only an explicit rotate). */
  readonly nextRefreshAt?: number;
  readonly consecutiveFailures: number;
  readonly lastError?: string;
  /** Bumped by every `putRefreshConfig`; a commit with an older one is discarded. */
  readonly configVersion: number;
  /** Set while a refresh is in flight (durable, for crash detection). */
  readonly inFlight?: RefreshInFlight;
  readonly leaseOwner?: string;
  readonly leaseExpiresAt?: number;
  /** Bumped by every write of this row (configure, begin, commit, fail). */
  readonly resourceVersion: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** Input of `putRefreshConfig` (configure or reconfigure). */
export interface PutRefreshConfigInput {
  readonly provider: string;
  readonly key: CredentialKey;
  readonly strategy: string;
  readonly material: RefreshMaterial;
  /** Unset = not scheduled. */
  readonly nextRefreshAt?: number;
  /** When given, CAS on `configVersion` of the existing config (`conflict` / `not_found`). */
  readonly expectedConfigVersion?: number;
}

/** Result of `beginRefresh`. */
export type BeginRefreshResult =
  /** Lease taken, in-flight marker written: go ahead and call the token endpoint. */
  | { readonly outcome: 'acquired'; readonly state: RefreshState; readonly material: RefreshMaterial }
  /** Another owner holds a live lease: do nothing (it is refreshing). */
  | { readonly outcome: 'busy'; readonly state: RefreshState }
  /**
   * A previous attempt by another owner left its in-flight marker and its lease expired: it may
   * have spent the refresh token. Record `reauth_required` with `failRefresh` (never retry).
   */
  | { readonly outcome: 'stale'; readonly state: RefreshState };

/** Input of `commitRefresh`. */
export interface CommitRefreshInput {
  readonly owner: string;
  readonly expectedConfigVersion: number;
  /** New access token, written into the provider's `credentials[key]`. */
  readonly accessToken: string;
  /** Its expiry; unset removes `credentialExpiresAt[key]`. */
  readonly expiresAt?: number;
  /** Rotated refresh token, when the endpoint returned one (else the old one is kept). */
  readonly refreshToken?: string;
  readonly nextRefreshAt?: number;
}

/** Why a commit or a failure record was not applied. */
export type RefreshDiscardReason = 'config_changed' | 'config_deleted' | 'provider_deleted' | 'lease_lost';

/** Result of `commitRefresh`. */
export type CommitRefreshResult =
  | { readonly outcome: 'committed'; readonly state: RefreshState; readonly provider: ProviderRecord }
  | { readonly outcome: 'discarded'; readonly reason: RefreshDiscardReason };

/** Input of `failRefresh`. */
export interface FailRefreshInput {
  /** The owner that began the refresh; a different live owner makes this `discarded: lease_lost`. */
  readonly owner: string;
  readonly expectedConfigVersion: number;
  readonly status: Exclude<RefreshStatus, 'refreshed' | 'configured'>;
  /** Never containing a secret. */
  readonly lastError: string;
  readonly nextRefreshAt?: number;
  readonly consecutiveFailures: number;
}

/** Result of `failRefresh`. */
export type FailRefreshResult =
  | { readonly outcome: 'recorded'; readonly state: RefreshState }
  | { readonly outcome: 'discarded'; readonly reason: RefreshDiscardReason };

/** What changed. `sandbox` covers bindings; `refresh` covers configure/commit/fail/delete. */
export type StoreChangeKind = 'provider' | 'route' | 'sandbox' | 'refresh' | 'admin';

/** One change event, fired after commit, in-process and (Postgres) on every replica. */
export interface StoreChange {
  readonly kind: StoreChangeKind;
  /**
   * Affected record name (provider, route or sandbox name; for `refresh`, the provider name).
   * `*` means anything may have changed (e.g. the Postgres LISTEN connection was re-established
   * after missing notifications): re-read everything.
   */
  readonly name: string;
  readonly op: 'create' | 'update' | 'delete';
}

/** A change listener; must not throw (errors are swallowed) and should return quickly. */
export type StoreChangeListener = (change: StoreChange) => void;

/** The storage contract of the gateway (DESIGN §8). */
export interface Store {
  /** `sqlite` or `postgres`. */
  readonly dialect: 'sqlite' | 'postgres';

  /** Resolves when the database answers (for `/readyz`); throws `unavailable` otherwise. */
  ping(): Promise<void>;
  /** Releases connections and listeners. Idempotent. */
  close(): Promise<void>;

  /**
   * Subscribes to changes (after commit). In-process for every adapter; across replicas on
   * Postgres (LISTEN/NOTIFY). Returns the unsubscribe function.
   */
  watchChanges(listener: StoreChangeListener): () => void;

  // Providers
  createProvider(input: NewProvider): Promise<ProviderRecord>;
  getProvider(name: string): Promise<ProviderRecord | undefined>;
  listProviders(): Promise<ProviderRecord[]>;
  updateProvider(name: string, update: ProviderUpdate): Promise<ProviderRecord>;
  deleteProvider(name: string, options?: DeleteProviderOptions): Promise<DeleteProviderResult>;

  // Inference routes
  putRoute(input: PutRouteInput): Promise<InferenceRouteRecord>;
  getRoute(name: string): Promise<InferenceRouteRecord | undefined>;
  listRoutes(): Promise<InferenceRouteRecord[]>;
  /** `expectedResourceVersion` omitted = delete whatever is current. */
  deleteRoute(name: string, expectedResourceVersion?: number): Promise<void>;

  // Sandboxes
  createSandbox(input: NewSandbox): Promise<SandboxRecord>;
  getSandbox(name: string): Promise<SandboxRecord | undefined>;
  listSandboxes(): Promise<SandboxRecord[]>;
  updateSandbox(name: string, update: SandboxUpdate): Promise<SandboxRecord>;
  /** Deletes the sandbox and all its tokens at once. */
  deleteSandbox(name: string, expectedResourceVersion?: number): Promise<void>;

  // Sandbox tokens (hashes only)
  createSandboxToken(input: NewSandboxToken): Promise<SandboxToken>;
  /** The live token with this hash and its sandbox; `undefined` when unknown or expired. */
  findSandboxToken(hash: string): Promise<{ token: SandboxToken; sandbox: SandboxRecord } | undefined>;
  listSandboxTokens(sandbox: string): Promise<SandboxToken[]>;
  deleteSandboxToken(id: string): Promise<void>;
  /** Deletes expired tokens; returns how many. */
  pruneExpiredSandboxTokens(now?: number): Promise<number>;

  // Admin token (hash only)
  getAdminTokenHash(): Promise<string | undefined>;
  /**
   * Sets the admin token hash. With `onlyIfAbsent`, sets it only when none is stored (first start,
   * race-free between replicas) and returns whether it did; otherwise replaces it (rotation).
   */
  setAdminTokenHash(hash: string, options?: { onlyIfAbsent?: boolean }): Promise<boolean>;

  // Credential refresh (DESIGN §5)
  /** Configure or reconfigure: bumps `configVersion`, status `configured`, clears errors, lease and marker. */
  putRefreshConfig(input: PutRefreshConfigInput): Promise<RefreshState>;
  getRefreshState(provider: string, key: CredentialKey): Promise<RefreshState | undefined>;
  /** All states, or those of one provider. */
  listRefreshStates(provider?: string): Promise<RefreshState[]>;
  /** `expectedConfigVersion` omitted = delete whatever is current. */
  deleteRefreshConfig(provider: string, key: CredentialKey, expectedConfigVersion?: number): Promise<void>;
  /**
   * Takes the lease (atomic across processes) and writes the durable in-flight marker. The same
   * owner may re-begin (renew). Throws `not_found` when not configured. Does not look at `status`.
   */
  beginRefresh(provider: string, key: CredentialKey, owner: string, leaseMs: number): Promise<BeginRefreshResult>;
  /**
   * One transaction: checks `configVersion`, writes the access token (+expiry) into the provider
   * (its `resourceVersion` bumps), the rotated refresh token into the material, status `refreshed`,
   * zero failures, clears marker and lease. A changed or deleted config yields `discarded`.
   */
  commitRefresh(provider: string, key: CredentialKey, input: CommitRefreshInput): Promise<CommitRefreshResult>;
  /**
   * Steps back after `beginRefresh` without calling the token endpoint (e.g. no longer due): clears
   * lease and marker only when `owner` holds them; changes nothing else. Returns whether it did.
   */
  releaseRefresh(provider: string, key: CredentialKey, owner: string): Promise<boolean>;
  /**
   * Records a failure (`error` or `reauth_required`) and clears marker and lease. Applied only when
   * the in-flight marker belongs to `input.owner` (to record a crashed refresh, pass the marker's
   * owner from `listStaleRefreshes` / a `stale` begin); otherwise `discarded: lease_lost`.
   */
  failRefresh(provider: string, key: CredentialKey, input: FailRefreshInput): Promise<FailRefreshResult>;
  /** States due at `now`: scheduled, not `reauth_required`, no in-flight marker, no live lease. */
  listDueRefreshes(now?: number): Promise<RefreshState[]>;
  /** States whose in-flight marker outlived its lease (a crashed refresh): mark them `reauth_required`. */
  listStaleRefreshes(now?: number): Promise<RefreshState[]>;
}

/** Options common to both adapters. */
export interface StoreCommonOptions {
  /** 32-byte key-encryption key (see `loadKek` in crypto). */
  readonly kek: Buffer;
  /** Clock for timestamps, leases and expiry (tests); default `Date.now`. */
  readonly clock?: () => number;
}

/** Options of `openSqliteStore`. */
export interface SqliteStoreOptions extends StoreCommonOptions {
  /** Database file path (created 0600 with its -wal/-shm sidecars). */
  readonly file: string;
  /** SQLite busy timeout in ms; default 5000. */
  readonly busyTimeoutMs?: number;
}

/** Options of `openPostgresStore`. */
export interface PostgresStoreOptions extends StoreCommonOptions {
  /** `postgres://…` connection string. */
  readonly url: string;
  /**
   * Schema holding the tables (created if missing, which needs CREATE on the database; or create it
   * beforehand); default `openshell`, so the gateway's tables never mix with `public`. Tests use one per run.
   */
  readonly schema?: string;
  /** Pool size; default 10. */
  readonly poolSize?: number;
}

/** Options of `openStore`: Postgres when `databaseUrl` is a postgres URL, else SQLite in `dataDir`. */
export interface OpenStoreOptions extends StoreCommonOptions {
  readonly dataDir: string;
  readonly databaseUrl?: string;
  readonly schema?: string;
}
