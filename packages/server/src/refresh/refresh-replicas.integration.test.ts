import { randomBytes } from 'node:crypto';
import { canaryScan, createFakeTokenEndpoint, jsonBody } from '@openshell/testing';
import { expect, it } from 'vitest';
import { openPostgresStore } from '../store/postgres-store.js';
import { describeWithPostgres, dropSchema, testSchemaName } from '../testing-fixtures/postgres.js';
import { startChild } from '../testing-fixtures/refresh/child-process.js';
import { KEY, PROVIDER, testProfile } from '../testing-fixtures/refresh/refresh-harness.js';
import type { ChildConfig } from '../testing-fixtures/refresh/refresh-gateway-child.js';

const ROTATIONS = 5;

describeWithPostgres('refresh', 'refresh across two gateway processes on Postgres', (databaseUrl) => {
  it(`makes exactly one token request per rotation over ${ROTATIONS} rotations`, async () => {
    const schema = testSchemaName('openshell_refresh');
    const kek = randomBytes(32);
    // Short-lived tokens (2 s, refreshed 1 s early) and a slow endpoint, so both replicas find the
    // credential due at the same moments and race for every rotation.
    const fake = await createFakeTokenEndpoint({ expiresIn: 2 });
    fake.force({ kind: 'slow', ms: 300 }, { times: 1_000 });
    const login = fake.issueLogin();
    const profile = testProfile([fake.tokenUrl], { refresh_before_seconds: 1 });
    const setup = await openPostgresStore({ url: databaseUrl, schema, kek, poolSize: 2 });
    try {
      await setup.createProvider({ name: PROVIDER, type: profile.id, credentials: { [KEY]: login.accessToken }, credentialExpiresAt: { [KEY]: login.expiresAt } });
      await setup.putRefreshConfig({ provider: PROVIDER, key: KEY, strategy: 'oauth2_refresh_token', material: { refresh_token: login.refreshToken! }, nextRefreshAt: login.expiresAt - 1_000 });
    } finally {
      await setup.close();
    }

    const config: ChildConfig = {
      database: { kind: 'postgres', url: databaseUrl, schema },
      kekHex: kek.toString('hex'),
      profile,
      mode: 'serve',
      provider: PROVIDER,
      maxSleepMs: 100,
      tokenTimeoutMs: 5_000,
      leaseMs: 20_000,
    };
    const replicas = [startChild(config, {}, 90_000), startChild(config, {}, 90_000)];
    try {
      await Promise.all(replicas.map((r) => r.waitFor((e) => e.event === 'ready')));
      const deadline = Date.now() + 60_000;
      while (fake.rotations < ROTATIONS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    } finally {
      for (const r of replicas) r.signal('SIGTERM');
    }
    const results = await Promise.all(replicas.map((r) => r.done));
    await fake.close();

    expect(results.map((r) => r.code)).toEqual([0, 0]);
    expect(fake.rotations).toBeGreaterThanOrEqual(ROTATIONS);
    // One request per rotation: every call succeeded, none reused a spent token.
    expect(fake.calls.map((c) => c.status)).toEqual(fake.calls.map(() => 200));
    expect(fake.calls.length).toBe(fake.rotations);
    const sent = fake.calls.map((c) => (jsonBody(c) as Record<string, string>).refresh_token!);
    expect(new Set(sent).size).toBe(sent.length);
    expect(sent[0]).toBe(login.refreshToken);

    const committed = results.map((r) => r.stderr.split('\n').filter((l) => l.includes('"event":"refresh_committed"')).length);
    expect(committed[0]! + committed[1]!).toBe(fake.rotations);
    const contention = results.map((r) => r.stderr.split('\n').filter((l) => /"event":"refresh_(wait|released)"/.test(l)).length);
    console.info(`[refresh] replicas committed ${committed.join(' + ')} rotations; waited/stepped back ${contention.join(' + ')} times`);

    const check = await openPostgresStore({ url: databaseUrl, schema, kek, poolSize: 2 });
    try {
      const state = await check.getRefreshState(PROVIDER, KEY);
      expect(state?.status).toBe('refreshed');
      expect(state?.inFlight).toBeUndefined();
      const value = (await check.getProvider(PROVIDER))!.credentials[KEY]!;
      expect(fake.ledger.status(value)).toBe('valid');
      expect(await canaryScan(results.flatMap((r) => [r.stdout, r.stderr]), [login.accessToken, ...sent, value])).toEqual([]);
    } finally {
      await check.close();
      await dropSchema(databaseUrl, schema);
    }
  }, 120_000);
});
