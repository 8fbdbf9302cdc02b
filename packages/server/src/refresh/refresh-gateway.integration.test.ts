import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseRouteBundle } from '@openshell/core';
import { canaryScan, createFakeTokenEndpoint, type FakeTokenEndpoint } from '@openshell/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fingerprintSecret } from '../crypto/fingerprint.js';
import { startTestGateway, type TestGateway } from '../testing-fixtures/gateway-fixture.js';
import { testClock } from '../testing-fixtures/refresh/refresh-harness.js';

/**
 * The refresh engine inside the real gateway (createGateway): admin auth, sandbox tokens, the route
 * bundle long-poll and /metrics, with the built-in anthropic-oauth profile shadowed by an admin
 * profile whose only change is a loopback token URL.
 */
const BUILTIN_YAML = fileURLToPath(new URL('../../../../providers/anthropic-oauth.yaml', import.meta.url));

let t: TestGateway;
let fake: FakeTokenEndpoint;
const clock = testClock();

beforeEach(async () => {
  clock.set(Date.parse('2026-06-01T00:00:00Z'));
  fake = await createFakeTokenEndpoint({ expiresIn: 3600, now: clock.fn });
  const dir = await mkdtemp(join(tmpdir(), 'osgw-refresh-'));
  const profilesDir = join(dir, 'profiles');
  await mkdir(profilesDir);
  const yaml = (await readFile(BUILTIN_YAML, 'utf8')).replace(/token_urls:\n(\s+- https:\/\/\S+\n)+/, `token_urls:\n        - ${fake.tokenUrl}\n`);
  expect(yaml).toContain(fake.tokenUrl);
  await writeFile(join(profilesDir, 'anthropic-oauth.yaml'), yaml);
  t = await startTestGateway({ dir, profilesDir, refresh: true, clock: clock.fn });
});

afterEach(async () => {
  await t.close();
  await fake.close();
  await rm(t.dir, { recursive: true, force: true });
});

describe('refresh inside the gateway', () => {
  it('a proactive rotation reaches a waiting supervisor, and rejections rotate once', async () => {
    const login = fake.issueLogin();
    const secrets = [login.accessToken, login.refreshToken!];
    const adminAnswers: string[] = [];
    const admin = async (...args: Parameters<TestGateway['call']>) => {
      const res = await t.call(...args);
      adminAnswers.push(res.text);
      return res;
    };

    expect((await admin('POST', '/v1/providers', { body: { name: 'claude-plan', type: 'claude-plan', credentials: { ANTHROPIC_OAUTH_TOKEN: login.accessToken }, credentialExpiresAt: { ANTHROPIC_OAUTH_TOKEN: login.expiresAt } } })).status).toBe(201);
    const configured = await admin('PUT', '/v1/providers/claude-plan/refresh', { body: { material: { refresh_token: login.refreshToken } } });
    expect(configured.status).toBe(200);
    expect(configured.json).toMatchObject({ status: 'configured', credentialKey: 'ANTHROPIC_OAUTH_TOKEN', nextRefreshAt: login.expiresAt - 300_000 });
    expect((await admin('PUT', '/v1/inference/routes/inference.local', { body: { provider: 'claude-plan', verify: false } })).status).toBe(200);
    const sandbox = await admin('POST', '/v1/sandboxes', { body: { name: 'dev', providers: ['claude-plan'] } });
    const sandboxToken: string = sandbox.json.token;

    // Refresh endpoints are admin-only.
    expect((await t.call('GET', '/v1/providers/claude-plan/refresh', { token: sandboxToken })).status).toBe(403);

    const first = parseRouteBundle((await t.call('GET', '/v1/sandbox/bundle', { token: sandboxToken })).json);
    expect(first.routes[0]?.auth.value).toBe(login.accessToken);

    // A supervisor waits on the long-poll; the scheduler refreshes; the waiter gets the new token.
    const waiting = t.call('GET', `/v1/sandbox/bundle?revision=${encodeURIComponent(first.revision)}&waitSeconds=20`, { token: sandboxToken });
    clock.set(login.expiresAt - 300_000);
    const [tick] = await t.gw.refreshEngine!.tick();
    expect(tick?.result).toBe('refreshed');
    const pushed = parseRouteBundle((await waiting).json);
    const minted = (await t.gw.store.getProvider('claude-plan'))!.credentials.ANTHROPIC_OAUTH_TOKEN!;
    secrets.push(minted);
    expect(pushed.revision).not.toBe(first.revision);
    expect(pushed.routes[0]?.auth.value).toBe(minted);
    expect(pushed.routes[0]?.credential.expiresAt).toBe(clock.now + 3_600_000);
    expect(fake.ledger.status(minted)).toBe('valid');

    // Thirty supervisors report the new token rejected at once: one rotation.
    const fingerprint = pushed.routes[0]!.credential.fingerprint;
    expect(fingerprint).toBe(fingerprintSecret(minted));
    const reports = await Promise.all(
      Array.from({ length: 30 }, () => t.call('POST', '/v1/sandbox/routes/inference.local/credential-rejected', { token: sandboxToken, body: { fingerprint } })),
    );
    expect(fake.calls).toHaveLength(2);
    const rotated = (await t.gw.store.getProvider('claude-plan'))!.credentials.ANTHROPIC_OAUTH_TOKEN!;
    secrets.push(rotated);
    for (const r of reports) {
      expect(r.status).toBe(200);
      expect(parseRouteBundle(r.json).routes[0]?.auth.value).toBe(rotated);
    }

    const status = await admin('GET', '/v1/providers/claude-plan/refresh');
    expect(status.json.credentials[0]).toMatchObject({ status: 'refreshed', consecutiveFailures: 0 });
    const metrics = await admin('GET', '/metrics');
    expect(metrics.text).toContain('openshell_refresh_status{provider="claude-plan",key="ANTHROPIC_OAUTH_TOKEN",status="refreshed"} 1');

    // Rotated refresh tokens were sent to the fake; none of any generation is in logs or admin answers.
    for (const call of fake.calls) secrets.push(JSON.parse(call.body.toString('utf8')).refresh_token);
    expect(await canaryScan([t.logs.text(), ...adminAnswers], secrets)).toEqual([]);
  });

  it('keeps serving the current token while refreshing fails, then fails closed at expiry', async () => {
    const login = fake.issueLogin();
    await t.call('POST', '/v1/providers', { body: { name: 'claude-plan', type: 'claude-plan', credentials: { ANTHROPIC_OAUTH_TOKEN: login.accessToken }, credentialExpiresAt: { ANTHROPIC_OAUTH_TOKEN: login.expiresAt } } });
    await t.call('PUT', '/v1/providers/claude-plan/refresh', { body: { material: { refresh_token: login.refreshToken } } });
    await t.call('PUT', '/v1/inference/routes/inference.local', { body: { provider: 'claude-plan', verify: false } });
    const sandboxToken: string = (await t.call('POST', '/v1/sandboxes', { body: { name: 'dev', providers: ['claude-plan'] } })).json.token;
    fake.force({ kind: 'server-error', status: 503 }, { times: 1_000 });

    clock.set(login.expiresAt - 300_000);
    await t.gw.refreshEngine!.tick();
    const failing = await t.call('GET', '/v1/providers/claude-plan/refresh');
    expect(failing.json.credentials[0]).toMatchObject({ status: 'error', consecutiveFailures: 1, expiresAt: login.expiresAt });
    expect(failing.json.credentials[0].lastError).toMatch(/503/);
    expect(parseRouteBundle((await t.call('GET', '/v1/sandbox/bundle', { token: sandboxToken })).json).routes[0]?.auth.value).toBe(login.accessToken);

    clock.set(login.expiresAt + 1);
    await t.gw.refreshEngine!.tick();
    const expired = parseRouteBundle((await t.call('GET', '/v1/sandbox/bundle', { token: sandboxToken })).json);
    expect(expired.routes).toEqual([]);
    expect(JSON.stringify(expired)).not.toContain(login.accessToken);
    expect(t.logs.text()).toMatch(/expired/);
  });
});
