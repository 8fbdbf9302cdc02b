import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canaryScan, createFakeTokenEndpoint, type FakeLogin, type FakeTokenEndpoint, jsonBody } from '@openshell/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../store/sqlite-store.js';
import type { Store } from '../store/types.js';
import { type ChildResult, runChild } from '../testing-fixtures/refresh/child-process.js';
import { KEY, PROVIDER, testProfile } from '../testing-fixtures/refresh/refresh-harness.js';
import type { ChildConfig } from '../testing-fixtures/refresh/refresh-gateway-child.js';
import { CRASH_ENV } from './crash-hook.js';

/**
 * SIGKILL of a real gateway process at each step of the refresh write path (SQLite). The crash is
 * injected by the engine's test-only hook (OPENSHELL_TEST_CRASH_AT), so it lands exactly there.
 */
let dir: string;
let fake: FakeTokenEndpoint;
let kek: Buffer;
let login: FakeLogin;
let config: ChildConfig;
const outputs: string[] = [];

async function withStore<T>(fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openSqliteStore({ file: join(dir, 'gateway.db'), kek });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

async function child(mode: ChildConfig['mode'], crashAt?: string): Promise<ChildResult> {
  const result = await runChild({ ...config, mode }, crashAt === undefined ? {} : { [CRASH_ENV]: crashAt });
  outputs.push(result.stdout, result.stderr);
  return result;
}

const outcomeOf = (r: ChildResult) => r.events.find((e) => e.event === 'outcome') as { result: string; status: Record<string, unknown> | null } | undefined;
const statusesOf = (r: ChildResult) => (r.events.find((e) => e.event === 'status') as { statuses: Array<Record<string, unknown>> }).statuses;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'openshell-refresh-crash-'));
  kek = randomBytes(32);
  fake = await createFakeTokenEndpoint({ expiresIn: 3600 });
  login = fake.issueLogin();
  const profile = testProfile([fake.tokenUrl]);
  config = { database: { kind: 'sqlite', file: join(dir, 'gateway.db') }, kekHex: kek.toString('hex'), profile, mode: 'rotate', provider: PROVIDER, tokenTimeoutMs: 5_000 };
  await withStore(async (store) => {
    await store.createProvider({ name: PROVIDER, type: profile.id, credentials: { [KEY]: login.accessToken }, credentialExpiresAt: { [KEY]: login.expiresAt } });
    await store.putRefreshConfig({ provider: PROVIDER, key: KEY, strategy: 'oauth2_refresh_token', material: { refresh_token: login.refreshToken! }, nextRefreshAt: login.expiresAt - 300_000 });
  });
  outputs.length = 0;
});

afterEach(async () => {
  // No token of any generation in any child's stdout or stderr.
  const secrets = [login.accessToken, login.refreshToken!, ...fake.calls.map((c) => (jsonBody(c) as Record<string, string>).refresh_token!)];
  await withStore(async (store) => {
    const value = (await store.getProvider(PROVIDER))?.credentials[KEY];
    if (value !== undefined) secrets.push(value);
  });
  expect(await canaryScan(outputs, secrets)).toEqual([]);
  await fake.close();
  await rm(dir, { recursive: true, force: true });
});

describe('SIGKILL on the refresh write path', { timeout: 120_000 }, () => {
  it('after the commit: nothing is lost and the next refresh after restart succeeds', async () => {
    const crashed = await child('rotate', 'after-commit');
    expect(crashed.signal).toBe('SIGKILL');
    expect(fake.rotations).toBe(1);
    const committed = await withStore(async (store) => ({ provider: await store.getProvider(PROVIDER), state: await store.getRefreshState(PROVIDER, KEY) }));
    expect(committed.state).toMatchObject({ status: 'refreshed', consecutiveFailures: 0 });
    expect(committed.state?.inFlight).toBeUndefined();
    const minted = committed.provider!.credentials[KEY]!;
    expect(minted).not.toBe(login.accessToken);
    expect(fake.ledger.status(minted)).toBe('valid');

    const restarted = await child('start');
    expect(restarted.code).toBe(0);
    expect(statusesOf(restarted)[0]).toMatchObject({ status: 'refreshed' });

    const next = await child('rotate');
    expect(outcomeOf(next)?.result).toBe('refreshed');
    expect(fake.rotations).toBe(2);
    expect(fake.calls.map((c) => c.status)).toEqual([200, 200]);
    // The second refresh spent the token the first one rotated in (it was committed before the crash).
    const sent = fake.calls.map((c) => (jsonBody(c) as Record<string, string>).refresh_token);
    expect(sent[0]).toBe(login.refreshToken);
    expect(sent[1]).not.toBe(login.refreshToken);
  });

  it('after the token response, before the commit: detected at restart as reauth_required with the fix, never retried', async () => {
    const crashed = await child('rotate', 'after-token-response');
    expect(crashed.signal).toBe('SIGKILL');
    expect(fake.rotations).toBe(1);
    expect(fake.isRefreshTokenValid(login.refreshToken!)).toBe(false);
    const marked = await withStore(async (store) => ({ provider: await store.getProvider(PROVIDER), state: await store.getRefreshState(PROVIDER, KEY) }));
    expect(marked.state?.inFlight).toBeDefined();
    expect(marked.provider!.credentials[KEY]).toBe(login.accessToken);

    const restarted = await child('start');
    expect(restarted.code).toBe(0);
    const [status] = statusesOf(restarted);
    expect(status).toMatchObject({ status: 'reauth_required', refreshing: false });
    expect(String(status?.lastError)).toContain(`openshell provider update ${PROVIDER} --from-claude-login`);
    expect(restarted.stderr).toContain('refresh_interrupted');

    // Neither another start nor an explicit rotation calls the token endpoint again.
    await child('start');
    const rotate = await child('rotate');
    expect(outcomeOf(rotate)?.result).toBe('reauth_required');
    expect(fake.calls).toHaveLength(1);
  });

  it('before the token request: the marker is found at restart and reported, without a token request', async () => {
    const crashed = await child('rotate', 'before-token-request');
    expect(crashed.signal).toBe('SIGKILL');
    expect(fake.calls).toHaveLength(0);
    const restarted = await child('start');
    // A marker cannot tell "not sent" from "sent, answer lost": the engine reports it rather than risk reuse.
    expect(statusesOf(restarted)[0]).toMatchObject({ status: 'reauth_required' });
    expect(fake.calls).toHaveLength(0);
  });
});
