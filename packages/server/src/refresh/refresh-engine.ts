import { randomUUID } from 'node:crypto';
import { type CredentialRefresh, type ProviderProfile, Secret } from '@openshell/core';
import type { Dispatcher } from 'undici';
import { fingerprintSecret } from '../crypto/fingerprint.js';
import { StoreError } from '../store/errors.js';
import type { ProviderRecord, RefreshMaterial, RefreshState, Store } from '../store/types.js';
import type { TokenErrorClassification } from './classify-token-error.js';
import { CRASH_ENV, type CrashStep, crashHookFrom } from './crash-hook.js';
import { type ConfigureRefreshBody, configureRefresh } from './refresh-config.js';
import { type CredentialRefreshStatus, type RefreshCounters, renderRefreshMetrics, toCredentialStatus } from './refresh-status.js';
import { accessTokenExpiresAt, type BackoffPolicy, backoffDelayMs, DEFAULT_BACKOFF, nextRefreshAt } from './retry-policy.js';
import { DEFAULT_TOKEN_TIMEOUT_MS, exchangeRefreshToken, type TokenExchangeResult, type TokenRequestSpec } from './token-request.js';

/** The logging surface the engine needs (pino's `Logger` fits). Never handed a secret. */
export interface RefreshLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Profile lookup by canonical provider type (a `ProfileCatalogue` map fits). */
export interface ProfileLookup {
  get(id: string): ProviderProfile | undefined;
}

/** Settings of {@link createRefreshEngine}. */
export interface RefreshEngineSettings {
  readonly store: Store;
  readonly catalogue: ProfileLookup | (() => ProfileLookup);
  readonly logger: RefreshLogger;
  /** Epoch-ms clock (tests inject one); default `Date.now`. */
  readonly clock?: () => number;
  /** undici dispatcher for token requests (tests, proxies); default the global one. */
  readonly dispatcher?: Dispatcher;
  /** [0, 1) source for backoff jitter; default `Math.random`. */
  readonly random?: () => number;
  /** Lease owner id; default a stable `sqlite-local` on SQLite (single process), a random id on Postgres. */
  readonly ownerId?: string;
  readonly backoff?: BackoffPolicy;
  /** Timeout of one token request; default 15 s. */
  readonly tokenTimeoutMs?: number;
  /** Lease length; default long enough for every token URL plus the drift retries. */
  readonly leaseMs?: number;
  /** Longest sleep of the background scheduler between looks at the store; default 30 s. */
  readonly maxSleepMs?: number;
  /** Minimum interval between rotations caused by `credential-rejected`, per credential; default 30 s. */
  readonly rejectedMinIntervalMs?: number;
  /** Credential fingerprint; default the gateway's own `fingerprintSecret`, which the route bundle uses too. */
  readonly fingerprint?: (value: string) => string;
  /** Where fresh secrets are registered for log scrubbing (the gateway's SecretRegistry). */
  readonly secrets?: { register(value: string | Secret): void };
  /** TEST-ONLY: crash step (see crash-hook.ts); default from `OPENSHELL_TEST_CRASH_AT`. */
  readonly crashAt?: string;
}

/** What one refresh request came to. */
export type RefreshResult =
  | 'refreshed'
  /** Nothing to do: not due, fingerprint no longer current, rate-limited, or already reauth_required. */
  | 'skipped'
  /** Another replica held the lease; we waited and this is its result. */
  | 'waited'
  | 'failed'
  | 'reauth_required'
  /** The token came back but the configuration changed or was deleted meanwhile. */
  | 'discarded'
  | 'not_configured';

/** What one rotation attempt did, with the credential's status afterwards. */
export interface RefreshOutcome {
  readonly result: RefreshResult;
  readonly status?: CredentialRefreshStatus;
  /** Why it failed or was skipped (no secret). */
  readonly message?: string;
}

/** A credential rejected upstream, as reported by a supervisor. */
export interface RejectedReport {
  readonly provider: string;
  readonly key: string;
  readonly fingerprint: string;
}

/** The refresh engine (DESIGN §5). */
export interface RefreshEngine {
  /** Detects crashed refreshes, then keeps every configured credential fresh in the background. */
  start(): Promise<void>;
  /** Stops the scheduler and waits for refreshes in flight. */
  stop(): Promise<void>;
  /** One scheduler pass at `clock()`: marks interrupted refreshes, refreshes what is due. */
  tick(): Promise<RefreshOutcome[]>;
  /** Refreshes now (synchronous for the caller); `key` defaults to the provider's only configured key. */
  rotateNow(provider: string, key?: string): Promise<RefreshOutcome>;
  /** Handles `credential-rejected`: rotates only when `fingerprint` is still current, single-flight, rate-limited. */
  reportRejected(report: RejectedReport): Promise<RefreshOutcome>;
  /** Status of every refreshed credential, or of one provider's. */
  status(provider?: string): Promise<CredentialRefreshStatus[]>;
  /** Prometheus text for `/metrics`. */
  metrics(): Promise<string>;
  /** Configures (or reconfigures) refresh of a provider credential; returns its status. */
  configure(provider: string, body: ConfigureRefreshBody): Promise<CredentialRefreshStatus>;
  /** Removes a refresh configuration (the served access token stays); false when none existed. */
  remove(provider: string, key?: string): Promise<boolean>;
  /** The credential key of `provider` whose current value has `fingerprint`, among the refreshed ones. */
  keyForFingerprint(provider: string, fingerprint: string): Promise<string | undefined>;
  /** The lease owner id of this engine. */
  readonly ownerId: string;
}

/** The command that gets a credential out of `reauth_required`. */
export function reauthCommand(provider: string, providerType: string | undefined): string {
  if (providerType === 'anthropic-oauth') {
    return `openshell provider update ${provider} --from-claude-login (or --oauth-login for a separate login)`;
  }
  return `openshell provider refresh configure ${provider} with a new refresh token`;
}

const POLL_INTERVAL_MS = 200;
const COMMIT_ATTEMPTS = 5;
/** A fresh token is never scheduled for refresh sooner than this (guards refresh_before >= lifetime). */
const MIN_REFRESH_INTERVAL_MS = 60_000;
/** Refresh cadence when the endpoint gives no lifetime and the profile no cap. */
const UNKNOWN_LIFETIME_REFRESH_MS = 55 * 60_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Creates the credential refresh engine over a store and the profile catalogue. */
export function createRefreshEngine(settings: RefreshEngineSettings): RefreshEngine {
  const { store, logger } = settings;
  const clock = settings.clock ?? Date.now;
  const random = settings.random ?? Math.random;
  const backoff = settings.backoff ?? DEFAULT_BACKOFF;
  const tokenTimeoutMs = settings.tokenTimeoutMs ?? DEFAULT_TOKEN_TIMEOUT_MS;
  const fingerprint = settings.fingerprint ?? fingerprintSecret;
  const rejectedMinIntervalMs = settings.rejectedMinIntervalMs ?? 30_000;
  const maxSleepMs = settings.maxSleepMs ?? 30_000;
  const ownerId = settings.ownerId ?? (store.dialect === 'sqlite' ? 'sqlite-local' : `replica-${randomUUID()}`);
  const crash: (step: CrashStep) => void = crashHookFrom(settings.crashAt ?? process.env[CRASH_ENV]);
  const catalogue = (): ProfileLookup => (typeof settings.catalogue === 'function' ? settings.catalogue() : settings.catalogue);

  const flights = new Map<string, Promise<RefreshOutcome>>();
  const lastRejectedRotation = new Map<string, number>();
  const counters: RefreshCounters = { tokenRequests: 0, outcomes: new Map() };
  let timer: NodeJS.Timeout | undefined;
  let unwatch: (() => void) | undefined;
  let running = false;
  /** Set by stop(): waits for other replicas end early instead of holding up shutdown. */
  let stopping = false;
  let ticking: Promise<unknown> | undefined;

  const idOf = (provider: string, key: string) => `${provider}\u0000${key}`;
  const count = (result: string) => counters.outcomes.set(result, (counters.outcomes.get(result) ?? 0) + 1);

  function refreshBlock(providerRec: ProviderRecord | undefined, key: string): CredentialRefresh | undefined {
    if (providerRec === undefined) return undefined;
    const profile = catalogue().get(providerRec.type);
    return profile?.credentials.find((c) => c.env_vars.includes(key) && c.refresh !== undefined)?.refresh;
  }

  function leaseMsFor(block: CredentialRefresh | undefined): number {
    if (settings.leaseMs !== undefined) return settings.leaseMs;
    const attempts = (block?.token_urls.length ?? 1) + 2;
    return Math.max(60_000, attempts * tokenTimeoutMs + 15_000);
  }

  async function statusOf(provider: string, key: string): Promise<CredentialRefreshStatus | undefined> {
    const state = await store.getRefreshState(provider, key);
    if (state === undefined) return undefined;
    return toCredentialStatus(state, await store.getProvider(provider));
  }

  async function outcome(result: RefreshResult, provider: string, key: string, message?: string): Promise<RefreshOutcome> {
    count(result);
    const status = await statusOf(provider, key).catch(() => undefined);
    return { result, ...(status === undefined ? {} : { status }), ...(message === undefined ? {} : { message }) };
  }

  /** Steps back from an acquired lease without touching anything else. */
  async function release(provider: string, key: string): Promise<void> {
    await store.releaseRefresh(provider, key, ownerId);
    logger.debug({ provider, key, event: 'refresh_released' }, 'refresh no longer needed under the lease; released it');
  }

  /** A refresh that was cut off after it may have spent the refresh token: terminal, with the fix. */
  async function markInterrupted(state: RefreshState): Promise<void> {
    const providerRec = await store.getProvider(state.provider);
    const fix = reauthCommand(state.provider, providerRec?.type);
    const lastError = `a refresh started at ${new Date(state.inFlight?.startedAt ?? clock()).toISOString()} was interrupted (gateway stopped) after it may have spent the refresh token; re-authorize: ${fix}`;
    // Recorded on behalf of the marker's (dead) owner: the store only accepts a failure from the marker's owner.
    const res = await store.failRefresh(state.provider, state.key, {
      owner: state.inFlight?.owner ?? ownerId,
      expectedConfigVersion: state.configVersion,
      status: 'reauth_required',
      lastError,
      consecutiveFailures: state.consecutiveFailures + 1,
    });
    if (res.outcome === 'recorded') {
      count('interrupted');
      logger.error({ provider: state.provider, key: state.key, event: 'refresh_interrupted' }, 'refresh was interrupted before its result was stored; credential needs re-authorization');
    } else {
      logger.warn({ provider: state.provider, key: state.key, reason: res.reason }, 'could not record an interrupted refresh');
    }
  }

  /** Waits (bounded) for another replica's refresh to finish, then reports its result. */
  async function waitForOther(provider: string, key: string, leaseMs: number): Promise<RefreshOutcome> {
    logger.debug({ provider, key, event: 'refresh_wait' }, 'another replica holds the refresh lease; waiting for its result');
    const rounds = Math.ceil((leaseMs + 5_000) / POLL_INTERVAL_MS);
    for (let i = 0; i < rounds; i++) {
      if (stopping) return outcome('failed', provider, key, 'the gateway is stopping');
      await sleep(POLL_INTERVAL_MS);
      const state = await store.getRefreshState(provider, key);
      if (state === undefined) return outcome('not_configured', provider, key, 'refresh configuration was deleted');
      if (state.inFlight === undefined) return outcome('waited', provider, key);
      if (state.leaseExpiresAt !== undefined && state.leaseExpiresAt < clock() && state.inFlight.owner !== ownerId) {
        await markInterrupted(state);
        return outcome('reauth_required', provider, key, 'another replica stopped in the middle of a refresh');
      }
    }
    return outcome('failed', provider, key, 'timed out waiting for another replica to finish its refresh');
  }

  type Trigger = { kind: 'schedule' } | { kind: 'rotate' } | { kind: 'rejected'; fingerprint: string };

  function singleFlight(provider: string, key: string, trigger: Trigger): Promise<RefreshOutcome> {
    const id = idOf(provider, key);
    const existing = flights.get(id);
    if (existing !== undefined) return existing;
    const flight = runRefresh(provider, key, trigger).finally(() => flights.delete(id));
    flights.set(id, flight);
    return flight;
  }

  async function runRefresh(provider: string, key: string, trigger: Trigger): Promise<RefreshOutcome> {
    // Checks before the lease: cheap, and a stale rejection never even takes the lease.
    const before = await store.getProvider(provider);
    if (before === undefined) return outcome('not_configured', provider, key, `provider '${provider}' does not exist`);
    if (trigger.kind === 'rejected') {
      const current = before.credentials[key];
      if (current === undefined || fingerprint(current) !== trigger.fingerprint) {
        return outcome('skipped', provider, key, 'the rejected credential is no longer current');
      }
      const last = lastRejectedRotation.get(idOf(provider, key));
      if (last !== undefined && clock() - last < rejectedMinIntervalMs) {
        logger.warn({ provider, key, event: 'refresh_rate_limited' }, 'credential-rejected rotation rate-limited');
        return outcome('skipped', provider, key, 'rotation on rejection is rate-limited for this credential');
      }
      lastRejectedRotation.set(idOf(provider, key), clock());
    }
    // Decide from a plain read whenever possible, so the lease is only taken to refresh.
    const seen = await store.getRefreshState(provider, key);
    if (seen === undefined) return outcome('not_configured', provider, key, `no refresh is configured for ${provider}/${key}`);
    if (seen.status === 'reauth_required') return outcome('reauth_required', provider, key, seen.lastError);
    if (seen.inFlight?.owner === ownerId) {
      // Our owner id on a marker while this is our only flight for it: a predecessor (SQLite's stable id)
      // died mid-refresh and may have spent the refresh token. The verdict of start()'s sweep, also for a
      // rejection or rotation that arrives before the sweep ran (the gateway listens first): never retry.
      await markInterrupted(seen);
      return outcome('reauth_required', provider, key, 'an earlier refresh of this credential was interrupted before its result was stored');
    }
    if (trigger.kind === 'schedule' && (seen.nextRefreshAt === undefined || seen.nextRefreshAt > clock() || seen.inFlight !== undefined)) {
      return outcome('skipped', provider, key, 'not due');
    }
    const block = refreshBlock(before, key);
    const leaseMs = leaseMsFor(block);

    let begin: Awaited<ReturnType<Store['beginRefresh']>>;
    try {
      begin = await store.beginRefresh(provider, key, ownerId, leaseMs);
    } catch (error) {
      if (StoreError.is(error, 'not_found')) return outcome('not_configured', provider, key, `no refresh is configured for ${provider}/${key}`);
      throw error;
    }
    if (begin.outcome === 'busy') return waitForOther(provider, key, leaseMs);
    if (begin.outcome === 'stale') {
      await markInterrupted(begin.state);
      return outcome('reauth_required', provider, key, begin.state.lastError);
    }
    try {
      return await refreshUnderLease(provider, key, trigger, begin.state, begin.material);
    } catch (error) {
      // Nothing was sent if we got here before the request (the request path never throws): step back.
      await store.releaseRefresh(provider, key, ownerId).catch(() => false);
      throw error;
    }
  }

  async function refreshUnderLease(provider: string, key: string, trigger: Trigger, state: RefreshState, material: RefreshMaterial): Promise<RefreshOutcome> {
    const now = clock();

    // Re-check under the lease: another replica may have refreshed between our read and the lease.
    if (state.status === 'reauth_required') {
      await release(provider, key);
      return outcome('reauth_required', provider, key, state.lastError);
    }
    if (trigger.kind === 'schedule' && (state.nextRefreshAt === undefined || state.nextRefreshAt > now)) {
      await release(provider, key);
      return outcome('skipped', provider, key, 'not due');
    }
    const providerRec = await store.getProvider(provider);
    if (trigger.kind === 'rejected') {
      const current = providerRec?.credentials[key];
      if (current === undefined || fingerprint(current) !== trigger.fingerprint) {
        await release(provider, key);
        return outcome('skipped', provider, key, 'the rejected credential is no longer current');
      }
    }
    const refresh = refreshBlock(providerRec, key);
    const fix = reauthCommand(provider, providerRec?.type);
    if (refresh === undefined || providerRec === undefined) {
      return recordFailure(state, { class: 'error', message: `the profile of provider '${provider}' declares no refresh for ${key}` }, fix);
    }
    const clientId = material.client_id ?? refresh.client_id;
    if (clientId === undefined || clientId.trim() === '') {
      return recordFailure(state, { class: 'error', message: 'no client_id: the profile declares none and the refresh material has none' }, fix);
    }
    const spec: TokenRequestSpec = {
      tokenUrls: refresh.token_urls,
      encoding: refresh.request_encoding,
      clientId: clientId.trim(),
      clientSecret: material.client_secret === undefined ? undefined : new Secret(material.client_secret),
      refreshToken: new Secret(material.refresh_token),
      scopes: refresh.scopes,
      userAgent: refresh.user_agent,
      timeoutMs: tokenTimeoutMs,
    };

    crash('before-token-request');
    let result: TokenExchangeResult;
    try {
      result = await exchangeRefreshToken(spec, { dispatcher: settings.dispatcher, now: clock });
    } catch {
      result = { ok: false, failure: { class: 'transient', message: 'token request failed unexpectedly' }, attempts: 1 };
    }
    crash('after-token-response');
    counters.tokenRequests += result.attempts;
    if (!result.ok) return recordFailure(state, result.failure, fix);

    // From here to the commit: no I/O. The old refresh token is spent; only the commit keeps the new one.
    const grant = result.grant;
    settings.secrets?.register(grant.accessToken);
    if (grant.refreshToken !== undefined) settings.secrets?.register(grant.refreshToken);
    const minted = clock();
    const expiresAt = accessTokenExpiresAt(minted, grant.expiresIn, refresh.max_lifetime_seconds);
    const scheduled =
      expiresAt === undefined
        ? minted + UNKNOWN_LIFETIME_REFRESH_MS
        : Math.max(nextRefreshAt(expiresAt, refresh.refresh_before_seconds), minted + Math.min(MIN_REFRESH_INTERVAL_MS, Math.floor((expiresAt - minted) / 2)));
    const commitInput = {
      owner: ownerId,
      expectedConfigVersion: state.configVersion,
      accessToken: grant.accessToken.reveal(),
      ...(expiresAt === undefined ? {} : { expiresAt }),
      ...(grant.refreshToken === undefined ? {} : { refreshToken: grant.refreshToken.reveal() }),
      nextRefreshAt: scheduled,
    };
    let commit: Awaited<ReturnType<Store['commitRefresh']>> | undefined;
    let commitError: unknown;
    for (let attempt = 1; attempt <= COMMIT_ATTEMPTS; attempt++) {
      try {
        commit = await store.commitRefresh(provider, key, commitInput);
        break;
      } catch (error) {
        commitError = error;
        if (attempt < COMMIT_ATTEMPTS) await sleep(100 * 2 ** attempt);
      }
    }
    crash('after-commit');
    if (commit === undefined) {
      // The marker stays: a later pass (or restart) reports reauth_required, never a silent loss.
      logger.error(
        { provider, key, event: 'refresh_commit_failed', code: StoreError.is(commitError) ? commitError.code : 'unknown' },
        'the token endpoint rotated the credential but the store did not accept it; the credential will need re-authorization',
      );
      return outcome('failed', provider, key, 'the refreshed credential could not be stored');
    }
    if (commit.outcome === 'discarded') {
      logger.warn(
        { provider, key, reason: commit.reason, event: 'refresh_discarded' },
        'refresh result discarded: the refresh configuration changed or was deleted while the token request was in flight',
      );
      return outcome('discarded', provider, key, `result discarded (${commit.reason})`);
    }
    logger.info(
      {
        provider,
        key,
        event: 'refresh_committed',
        trigger: trigger.kind,
        expiresAt,
        nextRefreshAt: scheduled,
        rotatedRefreshToken: grant.refreshToken !== undefined,
      },
      'credential refreshed',
    );
    count('refreshed');
    return { result: 'refreshed', status: toCredentialStatus(commit.state, commit.provider) };
  }

  async function recordFailure(state: RefreshState, failure: TokenErrorClassification, fix: string): Promise<RefreshOutcome> {
    const now = clock();
    const failures = state.consecutiveFailures + 1;
    const terminal = failure.class === 'reauth_required';
    let next: number | undefined;
    let lastError = failure.message;
    if (terminal) {
      lastError = `${failure.message}; the refresh grant is no longer valid: re-authorize with ${fix}`;
    } else if (failure.class === 'rate_limited' && failure.retryAfterMs !== undefined) {
      next = now + failure.retryAfterMs;
    } else {
      next = now + backoffDelayMs(failures, backoff, random);
    }
    const input = {
      owner: ownerId,
      expectedConfigVersion: state.configVersion,
      status: terminal ? ('reauth_required' as const) : ('error' as const),
      lastError,
      consecutiveFailures: failures,
      ...(next === undefined ? {} : { nextRefreshAt: next }),
    };
    let res: Awaited<ReturnType<Store['failRefresh']>> | undefined;
    for (let attempt = 1; res === undefined; attempt++) {
      try {
        res = await store.failRefresh(state.provider, state.key, input);
      } catch (error) {
        // Unrecorded, the marker would later read as a crash (reauth_required): try a little harder.
        if (attempt >= COMMIT_ATTEMPTS) throw error;
        await sleep(100 * 2 ** attempt);
      }
    }
    const log = {
      provider: state.provider,
      key: state.key,
      event: 'refresh_failed',
      class: failure.class,
      ...(failure.oauthError === undefined ? {} : { oauthError: failure.oauthError }),
      consecutiveFailures: failures,
      ...(next === undefined ? {} : { nextRefreshAt: next }),
    };
    if (terminal) logger.error(log, lastError);
    else logger.warn(log, `credential refresh failed: ${failure.message}`);
    if (res.outcome === 'discarded') return outcome('discarded', state.provider, state.key, `failure not recorded (${res.reason})`);
    count(terminal ? 'reauth_required' : 'error');
    return {
      result: terminal ? 'reauth_required' : 'failed',
      status: toCredentialStatus(res.state, await store.getProvider(state.provider).catch(() => undefined)),
      message: lastError,
    };
  }

  async function detectOwnCrash(): Promise<void> {
    // A marker with our own (stable, SQLite) owner id and no flight here is a predecessor that died mid-refresh.
    for (const state of await store.listRefreshStates()) {
      if (state.inFlight?.owner === ownerId && !flights.has(idOf(state.provider, state.key))) await markInterrupted(state);
    }
  }

  async function tickOnce(): Promise<RefreshOutcome[]> {
    const now = clock();
    for (const state of await store.listStaleRefreshes(now)) {
      if (!flights.has(idOf(state.provider, state.key))) await markInterrupted(state);
    }
    const due = await store.listDueRefreshes(now);
    return Promise.all(
      due.map((s) =>
        singleFlight(s.provider, s.key, { kind: 'schedule' }).catch((error: unknown) => {
          logger.error({ provider: s.provider, key: s.key, code: StoreError.is(error) ? error.code : 'unknown' }, 'refresh pass failed');
          return { result: 'failed' as const, message: 'refresh pass failed' };
        }),
      ),
    );
  }

  async function tick(): Promise<RefreshOutcome[]> {
    const pass = tickOnce();
    ticking = pass;
    try {
      return await pass;
    } finally {
      if (ticking === pass) ticking = undefined;
    }
  }

  async function nextWakeDelay(): Promise<number> {
    const now = clock();
    let soonest = now + maxSleepMs;
    for (const s of await store.listRefreshStates()) {
      if (s.status === 'reauth_required' || s.nextRefreshAt === undefined) continue;
      soonest = Math.min(soonest, Math.max(s.nextRefreshAt, now));
      if (s.inFlight !== undefined && s.leaseExpiresAt !== undefined) soonest = Math.min(soonest, Math.max(s.leaseExpiresAt + 1, now));
    }
    return Math.max(250, soonest - now);
  }

  function arm(delayMs: number): void {
    if (!running) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => void loop(), delayMs);
    timer.unref?.();
  }

  async function loop(): Promise<void> {
    timer = undefined;
    if (!running) return;
    let delay = maxSleepMs;
    try {
      await tick();
      delay = await nextWakeDelay();
    } catch (error) {
      logger.error({ code: StoreError.is(error) ? error.code : 'unknown', event: 'refresh_scheduler_error' }, 'refresh scheduler pass failed; retrying');
      delay = Math.min(maxSleepMs, 5_000);
    }
    arm(delay);
  }

  async function keyFor(provider: string, key: string | undefined): Promise<string | undefined> {
    if (key !== undefined) return key;
    const states = await store.listRefreshStates(provider);
    return states.length === 1 ? states[0]?.key : undefined;
  }

  return {
    ownerId,

    async start() {
      if (running) return;
      stopping = false;
      await detectOwnCrash();
      running = true;
      unwatch = store.watchChanges((change) => {
        // A configuration written on any replica may be due sooner than our timer: look again soon.
        if (change.kind === 'refresh' && running) arm(100);
      });
      arm(0);
    },

    async stop() {
      running = false;
      stopping = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      unwatch?.();
      unwatch = undefined;
      await Promise.allSettled([ticking, ...flights.values()]);
    },

    tick,

    async rotateNow(provider, key) {
      const resolved = await keyFor(provider, key);
      if (resolved === undefined) return outcome('not_configured', provider, key ?? '', `no refresh is configured for provider '${provider}'${key === undefined ? '' : ` key ${key}`}`);
      return singleFlight(provider, resolved, { kind: 'rotate' });
    },

    async reportRejected(report) {
      return singleFlight(report.provider, report.key, { kind: 'rejected', fingerprint: report.fingerprint });
    },

    async status(provider) {
      const states = await store.listRefreshStates(provider);
      const providers = new Map<string, ProviderRecord | undefined>();
      const out: CredentialRefreshStatus[] = [];
      for (const state of states) {
        if (!providers.has(state.provider)) providers.set(state.provider, await store.getProvider(state.provider));
        out.push(toCredentialStatus(state, providers.get(state.provider)));
      }
      return out.sort((a, b) => (a.provider === b.provider ? a.credentialKey.localeCompare(b.credentialKey) : a.provider.localeCompare(b.provider)));
    },

    async metrics() {
      return renderRefreshMetrics(await this.status(), counters);
    },

    async configure(provider, body) {
      const state = await configureRefresh(store, (type) => catalogue().get(type), provider, body);
      logger.info({ provider, key: state.key, event: 'refresh_configured', nextRefreshAt: state.nextRefreshAt }, 'credential refresh configured');
      if (running) arm(0);
      return toCredentialStatus(state, await store.getProvider(provider));
    },

    async remove(provider, key) {
      const states = await store.listRefreshStates(provider);
      const targets = key === undefined ? states : states.filter((s) => s.key === key);
      for (const s of targets) {
        try {
          await store.deleteRefreshConfig(provider, s.key);
        } catch (error) {
          if (!StoreError.is(error, 'not_found')) throw error;
        }
        logger.info({ provider, key: s.key, event: 'refresh_deleted' }, 'credential refresh configuration deleted');
      }
      return targets.length > 0;
    },

    async keyForFingerprint(provider, fp) {
      const providerRec = await store.getProvider(provider);
      if (providerRec === undefined) return undefined;
      for (const s of await store.listRefreshStates(provider)) {
        const value = providerRec.credentials[s.key];
        if (value !== undefined && fingerprint(value) === fp) return s.key;
      }
      return undefined;
    },
  };
}
