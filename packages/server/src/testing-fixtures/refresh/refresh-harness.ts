/**
 * Test harness of the refresh engine: a real SQLite store in a temp dir, the loopback fake token
 * endpoint of @openshell/testing, an injectable clock, captured logs and every secret the engine saw.
 * Test-only (excluded from the build).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { type CredentialRefresh, type ProviderProfile, Secret } from '@openshell/core';
import { createFakeTokenEndpoint, type FakeLogin, type FakeTokenEndpoint, type FakeTokenEndpointOptions } from '@openshell/testing';
import { pino } from 'pino';
import { createRefreshEngine, type RefreshEngine, type RefreshEngineSettings } from '../../refresh/index.js';
import { openSqliteStore } from '../../store/sqlite-store.js';
import type { Store } from '../../store/types.js';

export const PROVIDER = 'claude-plan';
export const KEY = 'ANTHROPIC_OAUTH_TOKEN';
export const T0 = Date.parse('2026-06-01T00:00:00Z');

/** An `anthropic-oauth`-shaped profile whose token URLs point at loopback fakes. */
export function testProfile(tokenUrls: readonly string[], refresh: Partial<CredentialRefresh> = {}): ProviderProfile {
  return {
    id: 'anthropic-oauth',
    display_name: 'Anthropic (test)',
    description: 'test profile',
    category: 'inference',
    inference_capable: true,
    experimental: true,
    credentials: [
      {
        name: 'oauth_token',
        env_vars: [KEY],
        required: true,
        auth_style: 'bearer',
        injectable: false,
        refresh: {
          strategy: 'oauth2_refresh_token',
          token_urls: tokenUrls,
          client_id: '9d1c250a-e61b-44d9-88ed-5944d1962f5e',
          scopes: ['user:profile', 'user:inference', 'user:sessions:claude_code'],
          request_encoding: 'json',
          user_agent: 'axios/1.15.2',
          refresh_before_seconds: 300,
          ...refresh,
        },
      },
    ],
    discovery: { credentials: ['oauth_token'] },
    endpoints: [{ host: 'api.anthropic.com', port: 443 }],
    binaries: [],
  };
}

/** A controllable clock. */
export interface TestClock {
  now: number;
  readonly fn: () => number;
  advance(ms: number): void;
  set(ms: number): void;
}

export function testClock(start = T0): TestClock {
  const clock = {
    now: start,
    fn: () => clock.now,
    advance(ms: number) {
      clock.now += ms;
    },
    set(ms: number) {
      clock.now = ms;
    },
  };
  return clock;
}

export interface RefreshHarness {
  readonly dir: string;
  readonly store: Store;
  readonly fake: FakeTokenEndpoint;
  readonly clock: TestClock;
  readonly profile: ProviderProfile;
  readonly catalogue: Map<string, ProviderProfile>;
  engine: RefreshEngine;
  /** Every log line written by engines of this harness. */
  readonly logs: string[];
  /** Every secret value seen: seeded logins plus every token the engines minted. */
  readonly secrets: string[];
  makeEngine(settings?: Partial<RefreshEngineSettings>): RefreshEngine;
  /** Seeds a login at the fake, creates the provider with its access token and configures refresh. */
  seed(options?: { expiresIn?: number; name?: string }): Promise<FakeLogin>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly fake?: FakeTokenEndpointOptions;
  readonly refresh?: Partial<CredentialRefresh>;
  readonly engine?: Partial<RefreshEngineSettings>;
  /** Token URLs placed before the fake's (e.g. unreachable ones). */
  readonly extraUrlsBefore?: readonly string[];
}

export async function createRefreshHarness(options: HarnessOptions = {}): Promise<RefreshHarness> {
  const dir = await mkdtemp(join(tmpdir(), 'openshell-refresh-'));
  const clock = testClock();
  const store = await openSqliteStore({ file: join(dir, 'gateway.db'), kek: randomBytes(32), clock: clock.fn });
  const fake = await createFakeTokenEndpoint({ expiresIn: 3600, now: clock.fn, ...options.fake });
  const profile = testProfile([...(options.extraUrlsBefore ?? []), fake.tokenUrl], options.refresh);
  const catalogue = new Map([[profile.id, profile]]);
  const logs: string[] = [];
  const secrets: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') logs.push(line);
      done();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  const makeEngine = (settings: Partial<RefreshEngineSettings> = {}) =>
    createRefreshEngine({
      store,
      catalogue,
      logger,
      clock: clock.fn,
      random: () => 0.5,
      backoff: { baseMs: 10_000, capMs: 60_000 },
      tokenTimeoutMs: 2_000,
      secrets: { register: (v: string | Secret) => secrets.push(Secret.isSecret(v) ? v.reveal() : v) },
      ...options.engine,
      ...settings,
    });
  const harness: RefreshHarness = {
    dir,
    store,
    fake,
    clock,
    profile,
    catalogue,
    engine: makeEngine(),
    logs,
    secrets,
    makeEngine,
    async seed(seedOptions = {}) {
      const login = fake.issueLogin(seedOptions.expiresIn === undefined ? {} : { expiresIn: seedOptions.expiresIn });
      secrets.push(login.accessToken, login.refreshToken ?? '');
      const name = seedOptions.name ?? PROVIDER;
      await store.createProvider({ name, type: profile.id, credentials: { [KEY]: login.accessToken }, credentialExpiresAt: { [KEY]: login.expiresAt } });
      await harness.engine.configure(name, { material: { refresh_token: login.refreshToken! } });
      return login;
    },
    async close() {
      await harness.engine.stop();
      await store.close();
      await fake.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return harness;
}
