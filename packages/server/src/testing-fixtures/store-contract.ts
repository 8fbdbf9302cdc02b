import { randomBytes } from 'node:crypto';
import { canary, canaryScan, waitUntil } from '@openshell/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreError } from '../store/errors.js';
import type { Store, StoreChange } from '../store/types.js';

/** One fresh, empty database for one test. */
export interface ContractDatabase {
  /** Opens a store on this database (several calls = several instances, e.g. replicas). */
  open(options: { kek: Buffer; clock?: () => number }): Promise<Store>;
  /** Everything the database holds, as text (SQLite: file bytes with sidecars; Postgres: every row). */
  rawContents(): Promise<string>;
  /** Swaps the sealed credentials column of two providers (a row-swap attack by a DB writer). */
  swapSealedCredentials(a: string, b: string): Promise<void>;
  /** Removes the database. */
  dispose(): Promise<void>;
}

/** What an adapter's test file passes to `describeStoreContract`. */
export interface ContractHarness {
  /** Creates a fresh database for one test. */
  fresh(): Promise<ContractDatabase>;
  /** True when changes written by one instance reach another's `watchChanges` (Postgres). */
  readonly crossInstanceChanges: boolean;
}

/** A controllable clock. */
function manualClock(start = 1_800_000_000_000) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

async function expectStoreError(promise: Promise<unknown>, code: string): Promise<StoreError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(StoreError.is(error), `expected a StoreError ${code}, got ${String(error)}`).toBe(true);
  expect((error as StoreError).code).toBe(code);
  return error as StoreError;
}

/** The shared Store contract suite; each adapter's test file calls it once. */
export function describeStoreContract(name: string, harness: ContractHarness): void {
  describe(`Store contract: ${name}`, () => {
    let db: ContractDatabase;
    let kek: Buffer;
    const opened: Store[] = [];
    const clock = manualClock();

    async function open(options: { kek?: Buffer; clock?: () => number } = {}): Promise<Store> {
      const store = await db.open({ kek: options.kek ?? kek, clock: options.clock ?? clock.now });
      opened.push(store);
      return store;
    }

    beforeEach(async () => {
      kek = randomBytes(32);
      db = await harness.fresh();
    });

    afterEach(async () => {
      for (const store of opened.splice(0)) await store.close();
      await db.dispose();
    });

    describe('providers', () => {
      it('creates, reads, lists, updates and deletes with resourceVersion bumps', async () => {
        const store = await open();
        const created = await store.createProvider({
          name: 'claude',
          type: 'anthropic-oauth',
          credentials: { ANTHROPIC_OAUTH_TOKEN: 'tok-1' },
          config: { ANTHROPIC_BASE_URL: 'https://api.example.invalid' },
          credentialExpiresAt: { ANTHROPIC_OAUTH_TOKEN: 123 },
        });
        expect(created).toMatchObject({
          name: 'claude',
          type: 'anthropic-oauth',
          credentials: { ANTHROPIC_OAUTH_TOKEN: 'tok-1' },
          config: { ANTHROPIC_BASE_URL: 'https://api.example.invalid' },
          credentialExpiresAt: { ANTHROPIC_OAUTH_TOKEN: 123 },
          resourceVersion: 1,
          createdAt: clock.now(),
        });
        expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
        expect(await store.getProvider('claude')).toEqual(created);
        expect(await store.getProvider('missing')).toBeUndefined();

        clock.advance(1000);
        const updated = await store.updateProvider('claude', { expectedResourceVersion: 1, credentials: { ANTHROPIC_OAUTH_TOKEN: 'tok-2' } });
        expect(updated.resourceVersion).toBe(2);
        expect(updated.credentials).toEqual({ ANTHROPIC_OAUTH_TOKEN: 'tok-2' });
        expect(updated.config).toEqual(created.config); // omitted fields are kept
        expect(updated.updatedAt).toBe(clock.now());
        expect(updated.createdAt).toBe(created.createdAt);

        await store.createProvider({ name: 'alpha', type: 'openai', credentials: { OPENAI_API_KEY: 'k' } });
        expect((await store.listProviders()).map((p) => p.name)).toEqual(['alpha', 'claude']);

        await store.deleteProvider('claude', { expectedResourceVersion: 2 });
        expect(await store.getProvider('claude')).toBeUndefined();
      });

      it('classifies duplicates, missing records and stale versions', async () => {
        const store = await open();
        await store.createProvider({ name: 'p', type: 'openai', credentials: {} });
        const dup = await expectStoreError(store.createProvider({ name: 'p', type: 'openai', credentials: {} }), 'already_exists');
        expect(dup.message).toContain('"p"');
        await expectStoreError(store.updateProvider('nope', { expectedResourceVersion: 1, config: {} }), 'not_found');
        await expectStoreError(store.deleteProvider('nope'), 'not_found');
        const stale = await expectStoreError(store.updateProvider('p', { expectedResourceVersion: 7, config: {} }), 'conflict');
        expect(stale.message).toMatch(/re-read/);
        expect(stale.details).toMatchObject({ expected: 7, current: 1 });
        await expectStoreError(store.deleteProvider('p', { expectedResourceVersion: 2 }), 'conflict');
        expect((await store.getProvider('p'))?.resourceVersion).toBe(1);
      });

      it('lets exactly one of 20 concurrent writers with the same expected version win', async () => {
        const a = await open();
        const b = await open(); // a second instance on the same database
        await a.createProvider({ name: 'race', type: 'openai', credentials: { OPENAI_API_KEY: 'v0' } });
        const results = await Promise.allSettled(
          Array.from({ length: 20 }, (_, i) =>
            (i % 2 === 0 ? a : b).updateProvider('race', { expectedResourceVersion: 1, credentials: { OPENAI_API_KEY: `v${i + 1}` } }),
          ),
        );
        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(19);
        for (const r of lost) expect(StoreError.is(r.reason, 'conflict'), String(r.reason)).toBe(true);
        const final = await b.getProvider('race');
        expect(final?.resourceVersion).toBe(2);
        expect(final?.credentials).toEqual((won[0] as PromiseFulfilledResult<{ credentials: unknown }>).value.credentials);
      });

      it('refuses to delete a provider in use unless forced, then removes routes and bindings', async () => {
        const store = await open();
        await store.createProvider({ name: 'p', type: 'openai', credentials: { OPENAI_API_KEY: 'k' } });
        await store.createProvider({ name: 'q', type: 'openai', credentials: { OPENAI_API_KEY: 'k' } });
        await store.putRoute({ name: 'inference.local', provider: 'p' });
        await store.createSandbox({ name: 'dev', providers: ['q', 'p'] });
        await store.putRefreshConfig({ provider: 'p', key: 'OPENAI_API_KEY', strategy: 'oauth2_refresh_token', material: { refresh_token: 'r' } });

        const inUse = await expectStoreError(store.deleteProvider('p'), 'in_use');
        expect(inUse.details).toMatchObject({ routes: ['inference.local'], sandboxes: ['dev'] });
        expect(inUse.message).toMatch(/force/);
        expect(await store.getProvider('p')).toBeDefined();

        const result = await store.deleteProvider('p', { force: true });
        expect(result).toEqual({ deletedRoutes: ['inference.local'], unboundSandboxes: ['dev'] });
        expect(await store.getRoute('inference.local')).toBeUndefined();
        expect(await store.getSandbox('dev')).toMatchObject({ providers: ['q'], resourceVersion: 2 });
        expect(await store.listRefreshStates('p')).toEqual([]);
        // The name is free again and a new provider gets a new id.
        const again = await store.createProvider({ name: 'p', type: 'openai', credentials: {} });
        expect(again.resourceVersion).toBe(1);
      });

      it('rejects sealed credentials moved from another provider row', async () => {
        const store = await open();
        await store.createProvider({ name: 'one', type: 'openai', credentials: { OPENAI_API_KEY: 'one-secret' } });
        await store.createProvider({ name: 'two', type: 'openai', credentials: { OPENAI_API_KEY: 'two-secret' } });
        await db.swapSealedCredentials('one', 'two');
        const error = await expectStoreError(store.getProvider('one'), 'corrupt');
        expect(error.message).not.toContain('secret');
      });
    });

    describe('inference routes', () => {
      it('puts (upsert), CAS-updates, lists and deletes routes', async () => {
        const store = await open();
        await store.createProvider({ name: 'p', type: 'openai', credentials: {} });
        await store.createProvider({ name: 'p2', type: 'openai', credentials: {} });
        const created = await store.putRoute({ name: 'inference.local', provider: 'p', model: 'm1', timeoutSeconds: 30 });
        expect(created).toMatchObject({ name: 'inference.local', provider: 'p', model: 'm1', timeoutSeconds: 30, resourceVersion: 1 });
        const replaced = await store.putRoute({ name: 'inference.local', provider: 'p2' });
        expect(replaced).toMatchObject({ provider: 'p2', resourceVersion: 2 });
        expect(replaced.model).toBeUndefined();
        expect(replaced.timeoutSeconds).toBeUndefined();
        await expectStoreError(store.putRoute({ name: 'inference.local', provider: 'p', expectedResourceVersion: 1 }), 'conflict');
        const cas = await store.putRoute({ name: 'inference.local', provider: 'p', expectedResourceVersion: 2 });
        expect(cas.resourceVersion).toBe(3);
        await expectStoreError(store.putRoute({ name: 'other', provider: 'p', expectedResourceVersion: 1 }), 'not_found');
        const unknown = await expectStoreError(store.putRoute({ name: 'other', provider: 'ghost' }), 'not_found');
        expect(unknown.details).toMatchObject({ provider: 'ghost' });
        await store.putRoute({ name: 'a-route', provider: 'p' });
        expect((await store.listRoutes()).map((r) => r.name)).toEqual(['a-route', 'inference.local']);
        await expectStoreError(store.deleteRoute('inference.local', 1), 'conflict');
        await store.deleteRoute('inference.local', 3);
        await store.deleteRoute('a-route');
        expect(await store.listRoutes()).toEqual([]);
        await expectStoreError(store.deleteRoute('a-route'), 'not_found');
      });
    });

    describe('sandboxes and tokens', () => {
      it('creates sandboxes with ordered bindings and rebinds with CAS', async () => {
        const store = await open();
        for (const n of ['a', 'b', 'c']) await store.createProvider({ name: n, type: 'openai', credentials: {} });
        const created = await store.createSandbox({ name: 'dev', providers: ['c', 'a', 'c'] });
        expect(created).toMatchObject({ name: 'dev', providers: ['c', 'a'], resourceVersion: 1 });
        const unknown = await expectStoreError(store.createSandbox({ name: 'bad', providers: ['a', 'ghost'] }), 'not_found');
        expect(unknown.details).toMatchObject({ provider: 'ghost' });
        expect(await store.getSandbox('bad')).toBeUndefined(); // nothing half-written
        await expectStoreError(store.createSandbox({ name: 'dev', providers: [] }), 'already_exists');

        const rebound = await store.updateSandbox('dev', { expectedResourceVersion: 1, providers: ['b', 'c'] });
        expect(rebound).toMatchObject({ providers: ['b', 'c'], resourceVersion: 2 });
        await expectStoreError(store.updateSandbox('dev', { expectedResourceVersion: 1, providers: [] }), 'conflict');
        await expectStoreError(store.updateSandbox('dev', { expectedResourceVersion: 2, providers: ['ghost'] }), 'not_found');
        expect((await store.getSandbox('dev'))?.providers).toEqual(['b', 'c']);
        await store.createSandbox({ name: 'another', providers: [] });
        expect((await store.listSandboxes()).map((s) => [s.name, s.providers])).toEqual([
          ['another', []],
          ['dev', ['b', 'c']],
        ]);
      });

      it('finds tokens by hash, honours expiry, and drops them with their sandbox', async () => {
        const store = await open();
        await store.createProvider({ name: 'p', type: 'openai', credentials: {} });
        await store.createSandbox({ name: 'dev', providers: ['p'] });
        const forever = await store.createSandboxToken({ sandbox: 'dev', hash: 'h-forever' });
        const short = await store.createSandboxToken({ sandbox: 'dev', hash: 'h-short', expiresAt: clock.now() + 60_000 });
        await expectStoreError(store.createSandboxToken({ sandbox: 'ghost', hash: 'h' }), 'not_found');

        const found = await store.findSandboxToken('h-short');
        expect(found?.token).toEqual(short);
        expect(found?.sandbox).toMatchObject({ name: 'dev', providers: ['p'] });
        expect(await store.findSandboxToken('unknown')).toBeUndefined();
        expect((await store.listSandboxTokens('dev')).map((t) => t.id).sort()).toEqual([forever.id, short.id].sort());

        clock.advance(60_000);
        expect(await store.findSandboxToken('h-short')).toBeUndefined();
        expect(await store.pruneExpiredSandboxTokens()).toBe(1);
        expect((await store.listSandboxTokens('dev')).map((t) => t.id)).toEqual([forever.id]);

        await store.deleteSandboxToken(forever.id);
        expect(await store.findSandboxToken('h-forever')).toBeUndefined();
        await expectStoreError(store.deleteSandboxToken(forever.id), 'not_found');

        await store.createSandboxToken({ sandbox: 'dev', hash: 'h-again' });
        await store.deleteSandbox('dev');
        expect(await store.findSandboxToken('h-again')).toBeUndefined();
        // A new sandbox with the same name does not inherit the old tokens.
        await store.createSandbox({ name: 'dev', providers: [] });
        expect(await store.findSandboxToken('h-again')).toBeUndefined();
        expect(await store.listSandboxTokens('dev')).toEqual([]);
      });

      it('stores the admin token hash once at first start and replaces it on rotation', async () => {
        const a = await open();
        const b = await open();
        expect(await a.getAdminTokenHash()).toBeUndefined();
        const firsts = await Promise.all([a.setAdminTokenHash('h1', { onlyIfAbsent: true }), b.setAdminTokenHash('h2', { onlyIfAbsent: true })]);
        expect(firsts.filter(Boolean)).toHaveLength(1);
        const winner = await a.getAdminTokenHash();
        expect(['h1', 'h2']).toContain(winner);
        expect(await b.setAdminTokenHash('h3', { onlyIfAbsent: true })).toBe(false);
        expect(await b.setAdminTokenHash('h3')).toBe(true);
        expect(await a.getAdminTokenHash()).toBe('h3');
      });
    });

    describe('credential refresh', () => {
      async function configured(store: Store, next?: number) {
        await store.createProvider({ name: 'claude', type: 'anthropic-oauth', credentials: { ANTHROPIC_OAUTH_TOKEN: 'access-0' } });
        return store.putRefreshConfig({
          provider: 'claude',
          key: 'ANTHROPIC_OAUTH_TOKEN',
          strategy: 'oauth2_refresh_token',
          material: { refresh_token: 'refresh-0', client_id: 'client' },
          ...(next === undefined ? {} : { nextRefreshAt: next }),
        });
      }
      const KEY = 'ANTHROPIC_OAUTH_TOKEN';

      it('configures, begins, commits in one transaction, and serves the rotated material next time', async () => {
        const store = await open();
        const state = await configured(store);
        expect(state).toMatchObject({ provider: 'claude', key: KEY, status: 'configured', configVersion: 1, consecutiveFailures: 0 });
        expect(JSON.stringify(state)).not.toContain('refresh-0'); // states never carry material
        await expectStoreError(
          store.putRefreshConfig({ provider: 'ghost', key: KEY, strategy: 's', material: { refresh_token: 'x' } }),
          'not_found',
        );

        const begun = await store.beginRefresh('claude', KEY, 'owner-a', 30_000);
        expect(begun.outcome).toBe('acquired');
        if (begun.outcome !== 'acquired') return;
        expect(begun.material).toEqual({ refresh_token: 'refresh-0', client_id: 'client' });
        expect(begun.state).toMatchObject({ inFlight: { owner: 'owner-a', startedAt: clock.now() }, leaseOwner: 'owner-a', leaseExpiresAt: clock.now() + 30_000 });
        expect((await store.getRefreshState('claude', KEY))?.inFlight?.owner).toBe('owner-a'); // durable marker

        clock.advance(1000);
        const committed = await store.commitRefresh('claude', KEY, {
          owner: 'owner-a',
          expectedConfigVersion: begun.state.configVersion,
          accessToken: 'access-1',
          expiresAt: clock.now() + 3_600_000,
          refreshToken: 'refresh-1',
          nextRefreshAt: clock.now() + 3_000_000,
        });
        expect(committed.outcome).toBe('committed');
        if (committed.outcome !== 'committed') return;
        expect(committed.provider).toMatchObject({ credentials: { [KEY]: 'access-1' }, credentialExpiresAt: { [KEY]: clock.now() + 3_600_000 }, resourceVersion: 2 });
        expect(committed.state).toMatchObject({ status: 'refreshed', lastRefreshAt: clock.now(), nextRefreshAt: clock.now() + 3_000_000, consecutiveFailures: 0 });
        expect(committed.state.inFlight).toBeUndefined();
        expect(committed.state.leaseOwner).toBeUndefined();
        expect((await store.getProvider('claude'))?.credentials[KEY]).toBe('access-1');

        const again = await store.beginRefresh('claude', KEY, 'owner-b', 30_000);
        expect(again.outcome === 'acquired' && again.material).toEqual({ refresh_token: 'refresh-1', client_id: 'client' });
        // Without a rotated refresh token the old one is kept.
        const kept = await store.commitRefresh('claude', KEY, { owner: 'owner-b', expectedConfigVersion: 1, accessToken: 'access-2' });
        expect(kept.outcome).toBe('committed');
        expect((await store.getProvider('claude'))?.credentialExpiresAt).toEqual({});
        const third = await store.beginRefresh('claude', KEY, 'owner-c', 30_000);
        expect(third.outcome === 'acquired' && third.material.refresh_token).toBe('refresh-1');
      });

      it('discards a commit when the config changed or was deleted meanwhile', async () => {
        const store = await open();
        await configured(store);
        const begun = await store.beginRefresh('claude', KEY, 'owner-a', 30_000);
        expect(begun.outcome).toBe('acquired');
        const reconfigured = await store.putRefreshConfig({ provider: 'claude', key: KEY, strategy: 'oauth2_refresh_token', material: { refresh_token: 'fresh-login' } });
        expect(reconfigured).toMatchObject({ configVersion: 2, status: 'configured' });
        expect(reconfigured.inFlight).toBeUndefined();
        const discarded = await store.commitRefresh('claude', KEY, { owner: 'owner-a', expectedConfigVersion: 1, accessToken: 'late', refreshToken: 'late-refresh' });
        expect(discarded).toEqual({ outcome: 'discarded', reason: 'config_changed' });
        expect((await store.getProvider('claude'))?.credentials[KEY]).toBe('access-0');
        const next = await store.beginRefresh('claude', KEY, 'owner-b', 30_000);
        expect(next.outcome === 'acquired' && next.material.refresh_token).toBe('fresh-login');

        await expectStoreError(store.deleteRefreshConfig('claude', KEY, 1), 'conflict');
        await store.deleteRefreshConfig('claude', KEY, 2);
        expect(await store.getRefreshState('claude', KEY)).toBeUndefined();
        expect(await store.commitRefresh('claude', KEY, { owner: 'owner-b', expectedConfigVersion: 2, accessToken: 'x' })).toEqual({
          outcome: 'discarded',
          reason: 'config_deleted',
        });
        await store.deleteProvider('claude');
        expect(await store.commitRefresh('claude', KEY, { owner: 'owner-b', expectedConfigVersion: 2, accessToken: 'x' })).toEqual({
          outcome: 'discarded',
          reason: 'provider_deleted',
        });
        await expectStoreError(store.beginRefresh('claude', KEY, 'o', 1000), 'not_found');
      });

      it('records failures, clears the lease, and ignores a failure from an owner that lost the lease', async () => {
        const store = await open();
        await configured(store);
        const begun = await store.beginRefresh('claude', KEY, 'owner-a', 30_000);
        expect(begun.outcome).toBe('acquired');
        const failed = await store.failRefresh('claude', KEY, {
          owner: 'owner-a',
          expectedConfigVersion: 1,
          status: 'error',
          lastError: 'token endpoint returned HTTP 503',
          nextRefreshAt: clock.now() + 5000,
          consecutiveFailures: 1,
        });
        expect(failed.outcome).toBe('recorded');
        expect(failed.outcome === 'recorded' && failed.state).toMatchObject({
          status: 'error',
          lastError: 'token endpoint returned HTTP 503',
          consecutiveFailures: 1,
          nextRefreshAt: clock.now() + 5000,
        });
        expect((await store.getRefreshState('claude', KEY))?.leaseOwner).toBeUndefined();

        // owner-b refreshes and commits; owner-a's late failure must not overwrite that success.
        expect((await store.beginRefresh('claude', KEY, 'owner-b', 30_000)).outcome).toBe('acquired');
        expect((await store.commitRefresh('claude', KEY, { owner: 'owner-b', expectedConfigVersion: 1, accessToken: 'new' })).outcome).toBe('committed');
        const late = await store.failRefresh('claude', KEY, { owner: 'owner-a', expectedConfigVersion: 1, status: 'reauth_required', lastError: 'invalid_grant', consecutiveFailures: 1 });
        expect(late).toEqual({ outcome: 'discarded', reason: 'lease_lost' });
        expect((await store.getRefreshState('claude', KEY))?.status).toBe('refreshed');
        expect(await store.failRefresh('claude', KEY, { owner: 'owner-b', expectedConfigVersion: 9, status: 'error', lastError: 'x', consecutiveFailures: 1 })).toEqual({
          outcome: 'discarded',
          reason: 'config_changed',
        });
      });

      it('keeps configVersion consistent when replicas configure the same credential concurrently', async () => {
        const a = await open();
        const b = await open();
        await a.createProvider({ name: 'claude', type: 'anthropic-oauth', credentials: {} });
        const results = await Promise.allSettled(
          Array.from({ length: 6 }, (_, i) =>
            (i % 2 === 0 ? a : b).putRefreshConfig({ provider: 'claude', key: KEY, strategy: 'oauth2_refresh_token', material: { refresh_token: `r${i}` } }),
          ),
        );
        const ok = results.filter((r) => r.status === 'fulfilled');
        for (const r of results) if (r.status === 'rejected') expect(StoreError.is(r.reason, 'conflict'), String(r.reason)).toBe(true);
        expect(ok.length).toBeGreaterThanOrEqual(1);
        expect((await a.getRefreshState('claude', KEY))?.configVersion).toBe(ok.length);
      });

      it('releases a lease and marker only for their owner, changing nothing else', async () => {
        const store = await open();
        await configured(store, clock.now());
        expect((await store.beginRefresh('claude', KEY, 'owner-a', 30_000)).outcome).toBe('acquired');
        expect(await store.releaseRefresh('claude', KEY, 'owner-b')).toBe(false);
        expect((await store.getRefreshState('claude', KEY))?.leaseOwner).toBe('owner-a');
        expect(await store.releaseRefresh('claude', KEY, 'owner-a')).toBe(true);
        const after = await store.getRefreshState('claude', KEY);
        expect(after).toMatchObject({ status: 'configured', configVersion: 1, consecutiveFailures: 0, nextRefreshAt: clock.now() });
        expect(after?.inFlight).toBeUndefined();
        expect(after?.leaseOwner).toBeUndefined();
        expect((await store.listDueRefreshes()).map((s) => s.provider)).toEqual(['claude']);
        expect((await store.beginRefresh('claude', KEY, 'owner-b', 30_000)).outcome).toBe('acquired');
        expect(await store.releaseRefresh('ghost', KEY, 'owner-b')).toBe(false);
      });

      it('lists due refreshes by schedule, excluding in-flight and reauth_required states', async () => {
        const store = await open();
        await configured(store, clock.now() + 10_000);
        await store.createProvider({ name: 'unscheduled', type: 'openai', credentials: {} });
        await store.putRefreshConfig({ provider: 'unscheduled', key: 'K', strategy: 's', material: { refresh_token: 'r' } });
        expect(await store.listDueRefreshes()).toEqual([]);
        clock.advance(10_000);
        expect((await store.listDueRefreshes()).map((s) => s.provider)).toEqual(['claude']);
        expect((await store.listDueRefreshes(clock.now() - 1)).map((s) => s.provider)).toEqual([]);
        await store.beginRefresh('claude', KEY, 'o', 30_000);
        expect(await store.listDueRefreshes()).toEqual([]);
        await store.failRefresh('claude', KEY, { owner: 'o', expectedConfigVersion: 1, status: 'reauth_required', lastError: 'invalid_grant', nextRefreshAt: clock.now(), consecutiveFailures: 1 });
        expect(await store.listDueRefreshes()).toEqual([]);
        // Reconfiguring clears reauth_required.
        const fixed = await store.putRefreshConfig({ provider: 'claude', key: KEY, strategy: 'oauth2_refresh_token', material: { refresh_token: 'relogin' }, nextRefreshAt: clock.now() });
        expect(fixed).toMatchObject({ status: 'configured', consecutiveFailures: 0, configVersion: 2 });
        expect(fixed.lastError).toBeUndefined();
        expect((await store.listDueRefreshes()).map((s) => s.provider)).toEqual(['claude']);
      });

      it('detects a crashed in-flight refresh once its lease expired and turns it into reauth_required', async () => {
        const store = await open();
        await configured(store, clock.now());
        const begun = await store.beginRefresh('claude', KEY, 'dead-process', 5000);
        expect(begun.outcome).toBe('acquired');
        expect(await store.listStaleRefreshes()).toEqual([]); // lease still live: not stale
        clock.advance(5000);
        const stale = await store.listStaleRefreshes();
        expect(stale.map((s) => [s.provider, s.key, s.inFlight?.owner])).toEqual([['claude', KEY, 'dead-process']]);
        expect(await store.listDueRefreshes()).toEqual([]); // never retried automatically
        const attempt = await store.beginRefresh('claude', KEY, 'new-process', 5000);
        expect(attempt.outcome).toBe('stale');
        const marked = await store.failRefresh('claude', KEY, {
          owner: 'dead-process',
          expectedConfigVersion: 1,
          status: 'reauth_required',
          lastError: 'a refresh was interrupted after the token endpoint may have answered: log in again',
          consecutiveFailures: 1,
        });
        expect(marked.outcome === 'recorded' && marked.state.status).toBe('reauth_required');
        expect(await store.listStaleRefreshes()).toEqual([]);
      });

      it('grants the lease to exactly one of two store instances', async () => {
        const a = await open();
        const b = await open();
        await configured(a, clock.now());
        const attempts = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).beginRefresh('claude', KEY, `owner-${i}`, 30_000)));
        const acquired = attempts.filter((r) => r.outcome === 'acquired');
        expect(acquired).toHaveLength(1);
        expect(attempts.filter((r) => r.outcome === 'busy')).toHaveLength(9);
        const holder = acquired[0]?.state.leaseOwner;
        expect((await b.getRefreshState('claude', KEY))?.leaseOwner).toBe(holder);
        // The holder may renew; after expiry another owner can take over a lease with no marker.
        expect((await a.beginRefresh('claude', KEY, String(holder), 30_000)).outcome).toBe('acquired');
      });
    });

    describe('change feed', () => {
      it('notifies in-process listeners after commit and stops after unsubscribe', async () => {
        const store = await open();
        const seen: StoreChange[] = [];
        const stop = store.watchChanges((c) => seen.push(c));
        store.watchChanges(() => {
          throw new Error('a throwing listener does not break the writer');
        });
        await store.createProvider({ name: 'p', type: 'openai', credentials: {} });
        await store.updateProvider('p', { expectedResourceVersion: 1, config: { A: 'b' } });
        await store.putRoute({ name: 'inference.local', provider: 'p' });
        await store.createSandbox({ name: 'dev', providers: ['p'] });
        await store.putRefreshConfig({ provider: 'p', key: 'K', strategy: 's', material: { refresh_token: 'r' } });
        await expectStoreError(store.updateProvider('p', { expectedResourceVersion: 1, config: {} }), 'conflict'); // no event
        await store.deleteProvider('p', { force: true });
        expect(seen).toEqual([
          { kind: 'provider', name: 'p', op: 'create' },
          { kind: 'provider', name: 'p', op: 'update' },
          { kind: 'route', name: 'inference.local', op: 'create' },
          { kind: 'sandbox', name: 'dev', op: 'create' },
          { kind: 'refresh', name: 'p', op: 'create' },
          { kind: 'route', name: 'inference.local', op: 'delete' },
          { kind: 'sandbox', name: 'dev', op: 'update' },
          { kind: 'refresh', name: 'p', op: 'delete' },
          { kind: 'provider', name: 'p', op: 'delete' },
        ]);
        stop();
        await store.createProvider({ name: 'after', type: 'openai', credentials: {} });
        expect(seen).toHaveLength(9);
      });

      it.runIf(harness.crossInstanceChanges)('delivers one replica’s changes to another replica’s listeners', async () => {
        const a = await open();
        const b = await open();
        const seenByB: StoreChange[] = [];
        const seenByA: StoreChange[] = [];
        b.watchChanges((c) => seenByB.push(c));
        a.watchChanges((c) => seenByA.push(c));
        await a.createProvider({ name: 'shared', type: 'openai', credentials: { OPENAI_API_KEY: 'k' } });
        await waitUntil(() => seenByB.length >= 1, 'the change to reach instance B', 5_000);
        expect(seenByB).toEqual([{ kind: 'provider', name: 'shared', op: 'create' }]);
        expect(seenByA).toEqual([{ kind: 'provider', name: 'shared', op: 'create' }]); // once, not echoed back
        await b.updateProvider('shared', { expectedResourceVersion: 1, credentials: { OPENAI_API_KEY: 'k2' } });
        await waitUntil(() => seenByA.length >= 2, 'both changes to reach instance A', 5_000);
        expect(seenByA[1]).toEqual({ kind: 'provider', name: 'shared', op: 'update' });
      });
    });

    describe('keys and secrets at rest', () => {
      it('refuses to open with a key that does not match the store’s check value', async () => {
        const first = await open();
        await first.createProvider({ name: 'p', type: 'openai', credentials: { OPENAI_API_KEY: 'sealed' } });
        const error = await expectStoreError(open({ kek: randomBytes(32) }), 'key_mismatch');
        expect(error.message).toMatch(/does not match/);
        expect(error.message).toMatch(/OPENSHELL_KEK or --kek-file/);
        const same = await open({ kek: Buffer.from(kek) });
        expect((await same.getProvider('p'))?.credentials).toEqual({ OPENAI_API_KEY: 'sealed' });
      });

      it('never writes a secret in clear: credentials, refresh material and rotated tokens', async () => {
        const store = await open();
        const secrets = { access: canary('CANARY-access-'), refresh: canary('CANARY-refresh-'), clientSecret: canary('CANARY-client-secret-'), rotated: canary('CANARY-rotated-'), minted: canary('CANARY-minted-') };
        await store.createProvider({ name: 'canary-provider', type: 'anthropic-oauth', credentials: { ANTHROPIC_OAUTH_TOKEN: secrets.access } });
        await store.putRefreshConfig({
          provider: 'canary-provider',
          key: 'ANTHROPIC_OAUTH_TOKEN',
          strategy: 'oauth2_refresh_token',
          material: { refresh_token: secrets.refresh, client_id: 'public-client-id', client_secret: secrets.clientSecret },
        });
        const begun = await store.beginRefresh('canary-provider', 'ANTHROPIC_OAUTH_TOKEN', 'o', 30_000);
        expect(begun.outcome).toBe('acquired');
        await store.commitRefresh('canary-provider', 'ANTHROPIC_OAUTH_TOKEN', { owner: 'o', expectedConfigVersion: 1, accessToken: secrets.minted, refreshToken: secrets.rotated });
        const raw = await db.rawContents();
        // The dump is real: non-secret values are visible in it.
        expect(raw).toContain('canary-provider');
        expect(raw).toContain('oauth2_refresh_token');
        for (const secret of Object.values(secrets)) {
          expect(raw.includes(secret), 'secret found in clear in the database').toBe(false);
          expect(raw.includes(Buffer.from(secret).toString('base64')), 'secret found as base64 in the database').toBe(false);
        }
        expect(raw).not.toContain('CANARY-');
        // Also no base64/base64url/hex/url-encoded form of any secret.
        expect(await canaryScan([{ label: 'database', content: raw }], Object.values(secrets))).toEqual([]);
        // …and the store still reads them back.
        expect((await store.getProvider('canary-provider'))?.credentials.ANTHROPIC_OAUTH_TOKEN).toBe(secrets.minted);
      });

      it('answers ping while open and fails after close', async () => {
        const store = await open();
        await store.ping();
        await store.close();
        await store.close(); // idempotent
        await expectStoreError(store.ping(), 'unavailable');
      });
    });
  });
}
