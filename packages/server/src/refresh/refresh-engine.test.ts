import { canaryScan, jsonBody } from '@openshell/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { fingerprintSecret } from '../crypto/fingerprint.js';
import { StoreError } from '../store/errors.js';
import type { Store } from '../store/types.js';
import { createRefreshHarness, KEY, PROVIDER, type RefreshHarness, T0 } from '../testing-fixtures/refresh/refresh-harness.js';

let h: RefreshHarness;
afterEach(async () => {
  await h?.close();
});

const refreshTokenSent = (call: { body: Buffer }) => (jsonBody(call) as Record<string, string>).refresh_token;
const current = async () => (await h.store.getProvider(PROVIDER))!;
const state = async () => (await h.store.getRefreshState(PROVIDER, KEY))!;

describe('proactive refresh', () => {
  it('refreshes a due credential once, persists it, and uses the rotated refresh token next time', async () => {
    h = await createRefreshHarness();
    const login = await h.seed();
    const configured = await state();
    expect(configured.status).toBe('configured');
    expect(configured.nextRefreshAt).toBe(login.expiresAt - 300_000);

    expect(await h.engine.tick()).toEqual([]);
    expect(h.fake.calls).toHaveLength(0);

    h.clock.set(configured.nextRefreshAt!);
    const [first] = await h.engine.tick();
    expect(first?.result).toBe('refreshed');
    expect(h.fake.calls).toHaveLength(1);
    expect(refreshTokenSent(h.fake.calls[0]!)).toBe(login.refreshToken);
    const after = await current();
    expect(after.credentials[KEY]).not.toBe(login.accessToken);
    expect(h.fake.ledger.status(after.credentials[KEY]!)).toBe('valid');
    expect(h.fake.ledger.status(login.accessToken)).toBe('revoked');
    expect(after.credentialExpiresAt[KEY]).toBe(h.clock.now + 3_600_000);
    const refreshed = await state();
    expect(refreshed).toMatchObject({ status: 'refreshed', consecutiveFailures: 0, lastRefreshAt: h.clock.now });
    expect(refreshed.nextRefreshAt).toBe(h.clock.now + 3_600_000 - 300_000);
    expect(refreshed.inFlight).toBeUndefined();

    // Not due again yet: a second pass calls nothing.
    await h.engine.tick();
    expect(h.fake.calls).toHaveLength(1);

    h.clock.set(refreshed.nextRefreshAt!);
    const [second] = await h.engine.tick();
    expect(second?.result).toBe('refreshed');
    expect(h.fake.calls).toHaveLength(2);
    const rotated = refreshTokenSent(h.fake.calls[1]!);
    expect(rotated).not.toBe(login.refreshToken);
    expect(h.secrets).toContain(rotated);
    expect(h.fake.calls[1]!.status).toBe(200);
    expect(h.fake.rotations).toBe(2);
  });

  it('keeps the old refresh token when the endpoint omits refresh_token', async () => {
    h = await createRefreshHarness({ fake: { omitRefreshToken: true } });
    const login = await h.seed();
    for (let i = 0; i < 3; i++) {
      h.clock.set((await state()).nextRefreshAt!);
      expect((await h.engine.tick())[0]?.result).toBe('refreshed');
    }
    expect(h.fake.calls.map(refreshTokenSent)).toEqual([login.refreshToken, login.refreshToken, login.refreshToken]);
    expect(h.fake.calls.every((c) => c.status === 200)).toBe(true);
  });

  it('uses expires_in uncapped, and caps only with max_lifetime_seconds', async () => {
    h = await createRefreshHarness({ fake: { expiresIn: 28_800 } });
    await h.seed();
    await h.engine.rotateNow(PROVIDER);
    expect((await current()).credentialExpiresAt[KEY]).toBe(h.clock.now + 28_800_000);
    await h.close();

    h = await createRefreshHarness({ fake: { expiresIn: 28_800 }, refresh: { max_lifetime_seconds: 3600 } });
    await h.seed();
    await h.engine.rotateNow(PROVIDER);
    expect((await current()).credentialExpiresAt[KEY]).toBe(h.clock.now + 3_600_000);
  });

  it('mints at once when configured without an access token', async () => {
    h = await createRefreshHarness();
    const login = h.fake.issueLogin();
    await h.store.createProvider({ name: PROVIDER, type: 'anthropic-oauth', credentials: {} });
    const status = await h.engine.configure(PROVIDER, { material: { refresh_token: login.refreshToken! } });
    expect(status.nextRefreshAt).toBe(0);
    expect((await h.engine.tick())[0]?.result).toBe('refreshed');
    expect((await current()).credentials[KEY]).toMatch(/^sk-ant-oat01-/);
  });

  it('resumes from stored state after a restart: a new engine refreshes what is due', async () => {
    h = await createRefreshHarness();
    await h.seed();
    await h.engine.stop();
    h.clock.set((await state()).nextRefreshAt! + 1);
    h.engine = h.makeEngine();
    await h.engine.start();
    await expect.poll(() => h.fake.rotations, { timeout: 5_000 }).toBe(1);
    await expect.poll(async () => (await state()).status, { timeout: 5_000 }).toBe('refreshed');
  });

  it('discards and logs a result whose configuration changed while the request was in flight', async () => {
    h = await createRefreshHarness();
    const original = await h.seed();
    let release!: () => void;
    h.fake.force({ kind: 'hold', until: new Promise<void>((r) => (release = r)) });
    const rotating = h.engine.rotateNow(PROVIDER);
    await expect.poll(() => h.fake.calls.length).toBe(1);
    const second = h.fake.issueLogin();
    await h.engine.configure(PROVIDER, { material: { refresh_token: second.refreshToken! } });
    release();
    const outcome = await rotating;
    expect(outcome.result).toBe('discarded');
    expect((await current()).credentials[KEY]).toBe(original.accessToken);
    expect((await state()).status).toBe('configured');
    expect(h.logs.some((l) => l.includes('refresh_discarded') && l.includes('config_changed'))).toBe(true);
  });
});

describe('failure classes', () => {
  it('429 waits Retry-After, then succeeds', async () => {
    h = await createRefreshHarness();
    const login = await h.seed();
    h.clock.set((await state()).nextRefreshAt!);
    h.fake.force({ kind: 'rate-limit', retryAfterSeconds: 120 });
    expect((await h.engine.tick())[0]?.result).toBe('failed');
    const s = await state();
    expect(s).toMatchObject({ status: 'error', consecutiveFailures: 1, nextRefreshAt: h.clock.now + 120_000 });
    expect(s.lastError).toMatch(/429.*retry after 120 s/);
    expect((await current()).credentials[KEY]).toBe(login.accessToken);

    h.clock.advance(119_999);
    await h.engine.tick();
    expect(h.fake.calls).toHaveLength(1);
    h.clock.advance(1);
    expect((await h.engine.tick())[0]?.result).toBe('refreshed');
    expect(h.fake.calls).toHaveLength(2);
    expect(await state()).toMatchObject({ status: 'refreshed', consecutiveFailures: 0 });
  });

  it('5xx backs off exponentially with jitter up to the cap, and keeps serving the current token', async () => {
    h = await createRefreshHarness();
    const login = await h.seed();
    h.clock.set((await state()).nextRefreshAt!);
    h.fake.force({ kind: 'server-error', status: 503 }, { times: 5 });
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const before = h.clock.now;
      await h.engine.tick();
      const s = await state();
      expect(s.status).toBe('error');
      expect(s.consecutiveFailures).toBe(i + 1);
      delays.push(s.nextRefreshAt! - before);
      // Nothing happens before the backoff elapses.
      h.clock.set(s.nextRefreshAt! - 1);
      await h.engine.tick();
      expect(h.fake.calls).toHaveLength(i + 1);
      h.clock.set(s.nextRefreshAt!);
    }
    // base 10 s, cap 60 s, jitter fixed at 0.5: half + half·0.5 of min(cap, base·2^(n-1)).
    expect(delays).toEqual([7_500, 15_000, 30_000, 45_000, 45_000]);
    expect((await current()).credentials[KEY]).toBe(login.accessToken);
    expect((await h.engine.tick())[0]?.result).toBe('refreshed');
  });

  it('an HTML challenge page and a timeout are transient errors', async () => {
    h = await createRefreshHarness({ engine: { tokenTimeoutMs: 200 } });
    await h.seed();
    h.clock.set((await state()).nextRefreshAt!);
    h.fake.force({ kind: 'cloudflare-challenge' });
    await h.engine.tick();
    expect(await state()).toMatchObject({ status: 'error', consecutiveFailures: 1 });
    expect((await state()).lastError).toMatch(/HTML page/);

    h.clock.set((await state()).nextRefreshAt!);
    h.fake.force({ kind: 'hang' });
    await h.engine.tick();
    expect(await state()).toMatchObject({ status: 'error', consecutiveFailures: 2 });
    expect((await state()).lastError).toMatch(/timed out/);
  });

  it('invalid_grant is terminal: reauth_required with the fix, no retries, until reconfigured', async () => {
    h = await createRefreshHarness();
    const login = await h.seed();
    h.fake.revokeRefreshToken(login.refreshToken!);
    h.clock.set((await state()).nextRefreshAt!);
    expect((await h.engine.tick())[0]?.result).toBe('reauth_required');
    const s = await state();
    expect(s.status).toBe('reauth_required');
    expect(s.lastError).toContain('invalid_grant');
    expect(s.lastError).toContain(`openshell provider update ${PROVIDER} --from-claude-login`);
    const status = (await h.engine.status(PROVIDER))[0]!;
    expect(status.nextRefreshAt).toBeUndefined();

    for (let i = 0; i < 5; i++) {
      h.clock.advance(3_600_000);
      await h.engine.tick();
    }
    expect((await h.engine.rotateNow(PROVIDER)).result).toBe('reauth_required');
    expect(h.fake.calls).toHaveLength(1);

    const fresh = h.fake.issueLogin();
    await h.engine.configure(PROVIDER, { material: { refresh_token: fresh.refreshToken! } });
    expect((await h.engine.rotateNow(PROVIDER)).result).toBe('refreshed');
  });

  it('a refresh token spent elsewhere (reuse) gives reauth_required, not an endless retry', async () => {
    h = await createRefreshHarness();
    const login = await h.seed();
    // The host's Claude Code refreshes first with the shared token.
    const res = await fetch(h.fake.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: login.refreshToken, client_id: '9d1c250a-e61b-44d9-88ed-5944d1962f5e' }),
    });
    expect(res.status).toBe(200);
    const outcome = await h.engine.rotateNow(PROVIDER);
    expect(outcome.result).toBe('reauth_required');
    expect(outcome.message).toContain('--from-claude-login');
    h.clock.advance(10 * 3_600_000);
    for (let i = 0; i < 3; i++) await h.engine.tick();
    expect(h.fake.calls).toHaveLength(2);
  });

  it('an unknown client is terminal too', async () => {
    h = await createRefreshHarness({ refresh: { client_id: 'not-the-right-client' } });
    await h.seed();
    expect((await h.engine.rotateNow(PROVIDER)).result).toBe('reauth_required');
    expect((await state()).lastError).toContain('invalid_client');
  });
});

describe('single flight', () => {
  it('200 concurrent rejections and the scheduler cause exactly one token request', async () => {
    h = await createRefreshHarness();
    const login = await h.seed();
    h.clock.set((await state()).nextRefreshAt!);
    h.fake.force({ kind: 'slow', ms: 150 });
    const fingerprint = fingerprintSecret(login.accessToken);
    const results = await Promise.all([
      h.engine.tick(),
      ...Array.from({ length: 200 }, () => h.engine.reportRejected({ provider: PROVIDER, key: KEY, fingerprint })),
      h.engine.tick(),
    ]);
    expect(h.fake.calls).toHaveLength(1);
    expect(results.length).toBe(202);
    expect((await current()).credentials[KEY]).not.toBe(login.accessToken);
    // A late report of the old fingerprint does not rotate again.
    expect((await h.engine.reportRejected({ provider: PROVIDER, key: KEY, fingerprint })).result).toBe('skipped');
    expect(h.fake.calls).toHaveLength(1);
  });

  it('rate-limits rotations on rejection per credential', async () => {
    h = await createRefreshHarness({ engine: { rejectedMinIntervalMs: 60_000 } });
    await h.seed();
    const fp = async () => fingerprintSecret((await current()).credentials[KEY]!);
    expect((await h.engine.reportRejected({ provider: PROVIDER, key: KEY, fingerprint: await fp() })).result).toBe('refreshed');
    h.clock.advance(1_000);
    expect((await h.engine.reportRejected({ provider: PROVIDER, key: KEY, fingerprint: await fp() })).result).toBe('skipped');
    expect(h.fake.calls).toHaveLength(1);
    h.clock.advance(60_000);
    expect((await h.engine.reportRejected({ provider: PROVIDER, key: KEY, fingerprint: await fp() })).result).toBe('refreshed');
    expect(h.fake.calls).toHaveLength(2);
  });
});

describe('crash window', () => {
  it('a marker left by this gateway (SQLite) is reported as reauth_required at start, never retried', async () => {
    h = await createRefreshHarness();
    await h.seed();
    const engine = h.engine;
    // The previous process began a refresh and died before committing.
    const begun = await h.store.beginRefresh(PROVIDER, KEY, engine.ownerId, 60_000);
    expect(begun.outcome).toBe('acquired');
    h.engine = h.makeEngine();
    await h.engine.start();
    await h.engine.stop();
    const s = await state();
    expect(s.status).toBe('reauth_required');
    expect(s.inFlight).toBeUndefined();
    expect(s.lastError).toContain('interrupted');
    expect(s.lastError).toContain(`openshell provider update ${PROVIDER} --from-claude-login`);
    h.clock.advance(10 * 3_600_000);
    await h.engine.tick();
    await h.engine.tick();
    expect(h.fake.calls).toHaveLength(0);
  });

  it('a marker left by this gateway is reauth_required even when a rejection or a rotation comes before start() (the gateway listens first)', async () => {
    h = await createRefreshHarness();
    const login = await h.seed();
    const fingerprint = fingerprintSecret(login.accessToken);
    expect((await h.store.beginRefresh(PROVIDER, KEY, h.engine.ownerId, 60_000)).outcome).toBe('acquired');
    // A restarted process: its HTTP server already answers, its engine has not looked for crashed markers yet.
    h.engine = h.makeEngine();
    expect((await h.engine.reportRejected({ provider: PROVIDER, key: KEY, fingerprint })).result).toBe('reauth_required');
    expect((await h.engine.rotateNow(PROVIDER)).result).toBe('reauth_required');
    expect(h.fake.calls).toHaveLength(0);
    const s = await state();
    expect(s.status).toBe('reauth_required');
    expect(s.inFlight).toBeUndefined();
    expect(s.lastError).toContain('interrupted');
  });

  it("another replica's marker whose lease expired is detected by the scheduler", async () => {
    h = await createRefreshHarness();
    await h.seed();
    expect((await h.store.beginRefresh(PROVIDER, KEY, 'replica-dead', 5_000)).outcome).toBe('acquired');
    await h.engine.tick();
    expect((await state()).status).toBe('configured');
    h.clock.advance(5_001);
    await h.engine.tick();
    expect((await state()).status).toBe('reauth_required');
    expect(h.fake.calls).toHaveLength(0);
  });
});

describe('races and store failures', () => {
  it('a replica that wins the lease after another one committed steps back without a request', async () => {
    h = await createRefreshHarness();
    await h.seed();
    h.clock.set((await state()).nextRefreshAt!);
    // Replica B read the state (due) before replica A refreshed and committed.
    const snapshot = await state();
    const replicaB = h.makeEngine({
      ownerId: 'replica-b',
      store: new Proxy(h.store, {
        get(target, prop, receiver) {
          if (prop === 'listDueRefreshes') return async () => [snapshot];
          if (prop === 'getRefreshState') return async () => snapshot;
          const value = Reflect.get(target, prop, receiver) as unknown;
          return typeof value === 'function' ? value.bind(target) : value;
        },
      }) as Store,
    });
    expect((await h.engine.tick())[0]?.result).toBe('refreshed');
    const [b] = await replicaB.tick();
    expect(b?.result).toBe('skipped');
    expect(h.fake.calls).toHaveLength(1);
    const after = await state();
    expect(after.inFlight).toBeUndefined();
    expect(after.leaseOwner).toBeUndefined();
    expect(h.logs.some((l) => l.includes('refresh_released'))).toBe(true);
  });

  it('a rotation the store would not accept is reported, never silently lost', async () => {
    h = await createRefreshHarness();
    await h.seed();
    const failing = h.makeEngine({
      store: new Proxy(h.store, {
        get(target, prop, receiver) {
          if (prop === 'commitRefresh') return async () => Promise.reject(new StoreError('unavailable', 'database down'));
          const value = Reflect.get(target, prop, receiver) as unknown;
          return typeof value === 'function' ? value.bind(target) : value;
        },
      }) as Store,
    });
    const outcome = await failing.rotateNow(PROVIDER);
    expect(outcome.result).toBe('failed');
    expect(h.fake.rotations).toBe(1);
    expect(h.logs.some((l) => l.includes('refresh_commit_failed'))).toBe(true);
    // The marker stays, so the restarted gateway reports the loss instead of reusing a spent token.
    expect((await state()).inFlight).toBeDefined();
    h.engine = h.makeEngine();
    await h.engine.start();
    await h.engine.stop();
    expect((await state()).status).toBe('reauth_required');
    expect(h.fake.calls).toHaveLength(1);
  }, 20_000);
});

describe('status and secrets', () => {
  it('status, metrics, logs and errors never contain a token', async () => {
    h = await createRefreshHarness();
    const login = await h.seed();
    const texts: string[] = [];
    h.clock.set((await state()).nextRefreshAt!);
    await h.engine.tick();
    h.fake.force({ kind: 'server-error' });
    texts.push(JSON.stringify(await h.engine.rotateNow(PROVIDER)));
    h.fake.force({ kind: 'raw', status: 400, contentType: 'application/json', body: JSON.stringify({ error: 'invalid_request', error_description: `bad token ${login.refreshToken}` }) });
    texts.push(JSON.stringify(await h.engine.rotateNow(PROVIDER)));
    h.fake.force({ kind: 'cloudflare-challenge' });
    texts.push(JSON.stringify(await h.engine.rotateNow(PROVIDER)));
    texts.push(JSON.stringify(await h.engine.rotateNow(PROVIDER)));
    h.fake.revokeRefreshToken(h.secrets.at(-1)!);
    texts.push(JSON.stringify(await h.engine.rotateNow(PROVIDER)));
    const statuses = await h.engine.status();
    const metrics = await h.engine.metrics();
    expect(statuses[0]?.status).toBe('reauth_required');
    expect(metrics).toContain('openshell_refresh_status{provider="claude-plan",key="ANTHROPIC_OAUTH_TOKEN",status="reauth_required"} 1');
    expect(metrics).toMatch(/openshell_refresh_token_requests_total \d+/);
    const secrets = [...new Set(h.secrets.filter((s) => s !== ''))];
    expect(secrets.length).toBeGreaterThanOrEqual(6);
    const hits = await canaryScan([...h.logs, ...texts, JSON.stringify(statuses), metrics], secrets);
    expect(hits).toEqual([]);
    expect(h.logs.length).toBeGreaterThan(3);
  });

  it('status joins the provider expiry and reports refreshing state', async () => {
    h = await createRefreshHarness();
    const login = await h.seed();
    const [s] = await h.engine.status();
    expect(s).toEqual({
      provider: PROVIDER,
      credentialKey: KEY,
      strategy: 'oauth2_refresh_token',
      status: 'configured',
      expiresAt: login.expiresAt,
      nextRefreshAt: login.expiresAt - 300_000,
      consecutiveFailures: 0,
      refreshing: false,
    });
    expect(T0).toBeLessThan(login.expiresAt);
  });
});
