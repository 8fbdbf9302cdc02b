import { parseRouteBundle } from '@openshell/core';
import { canaryScan, createFakeAnthropic, type FakeAnthropic } from '@openshell/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './testing-fixtures/gateway-fixture.js';

// DESIGN §9 invariant 1 at the gateway: the non-injectable ANTHROPIC_OAUTH_TOKEN reaches only the
// bound sandbox's bundle — never its environment, any other API response, an error or a log line.
const CANARY = 'sk-ant-oat01-CANARY-7f3a9c1e5b2d4f6a8c0e2b4d6f8a0c2e';
const REFRESH_CANARY = 'sk-ant-ort01-CANARY-REFRESH-0a1b2c3d4e5f6a7b8c9d';

let t: TestGateway;
let fake: FakeAnthropic;
const responses: { label: string; content: string }[] = [];

beforeEach(async () => {
  responses.length = 0;
  fake = await createFakeAnthropic({ accessTokens: [CANARY] });
  t = await startTestGateway({ logLevel: 'trace' });
});
afterEach(async () => {
  await t.close();
  await fake.close();
});

async function call(...args: Parameters<TestGateway['call']>) {
  const res = await t.call(...args);
  responses.push({ label: `${args[0]} ${args[1]} → ${res.status}`, content: res.text });
  return res;
}

describe('the ANTHROPIC_OAUTH_TOKEN canary', () => {
  it('is in the bound sandbox bundle and nowhere else', async () => {
    const created = await call('POST', '/v1/providers', {
      body: {
        name: 'plan',
        type: 'claude-plan',
        credentials: { ANTHROPIC_OAUTH_TOKEN: CANARY },
        config: { ANTHROPIC_OAUTH_BASE_URL: `${fake.url}/v1` },
      },
    });
    expect(created.status).toBe(201);
    await t.gw.store.putRefreshConfig({ provider: 'plan', key: 'ANTHROPIC_OAUTH_TOKEN', strategy: 'oauth2_refresh_token', material: { refresh_token: REFRESH_CANARY } });
    await call('POST', '/v1/providers', { body: { name: 'gh', type: 'github', credentials: { GITHUB_TOKEN: 'ghp_canary_test_not_secret_01' } } });
    expect((await call('PUT', '/v1/inference/routes/inference.local', { body: { provider: 'plan', model: 'claude-sonnet-4-6' } })).status).toBe(200);
    const dev = await call('POST', '/v1/sandboxes', { body: { name: 'dev', providers: ['plan', 'gh'] } });
    const other = await call('POST', '/v1/sandboxes', { body: { name: 'other', providers: ['gh'] } });
    const devToken = dev.json.token as string;

    // Every admin read, every sandbox read, every failure path we can provoke.
    await call('GET', '/v1/providers');
    await call('GET', '/v1/providers/plan');
    await call('PATCH', '/v1/providers/plan', { body: { resourceVersion: 1, config: { X_NOTE: 'n' } } });
    await call('PATCH', '/v1/providers/plan', { body: { resourceVersion: 1, credentials: { ANTHROPIC_OAUTH_TOKEN: CANARY } } });
    await call('PATCH', '/v1/providers/plan', { body: { resourceVersion: 2, credentials: { UNKNOWN_KEY: CANARY } } });
    await call('POST', '/v1/providers', { body: { name: 'dup', type: 'anthropic', credentials: { ANTHROPIC_OAUTH_TOKEN: CANARY } } });
    await call('GET', '/v1/inference/routes');
    await call('GET', '/v1/sandboxes');
    await call('GET', '/v1/sandboxes/dev');
    await call('GET', '/v1/profiles/anthropic-oauth');
    await call('GET', '/metrics');
    await call('DELETE', '/v1/providers/plan');
    const env = await call('GET', '/v1/sandbox/environment', { token: devToken });
    await call('GET', '/v1/sandbox/environment', { token: other.json.token });
    const otherBundle = await call('GET', '/v1/sandbox/bundle', { token: other.json.token });
    await call('GET', '/v1/sandbox/bundle?sandbox=other', { token: devToken });
    await call('GET', '/v1/providers', { token: devToken });
    // An upstream that echoes the credential in its error must not carry it into our answer or log.
    fake.force({ kind: 'error', status: 401, message: `invalid token ${CANARY}` });
    const echoed = await call('PUT', '/v1/inference/routes/inference.local', { body: { provider: 'plan', model: 'claude-haiku-4-5' } });
    expect(echoed.status).toBe(400);
    expect(echoed.json.error.message).toContain('[REDACTED]');
    // A free-text log message with the value in it is scrubbed too.
    t.gw.logger.warn(`something went wrong with ${CANARY} and ${REFRESH_CANARY}`);
    t.gw.logger.info({ err: new Error(`boom ${CANARY}`) }, 'error object');

    // Present where it must be.
    const devBundle = await t.call('GET', '/v1/sandbox/bundle', { token: devToken });
    expect(parseRouteBundle(devBundle.json).routes[0]?.auth.value).toBe(CANARY);
    expect(env.json.environment).toEqual({ GITHUB_TOKEN: 'ghp_canary_test_not_secret_01' });
    expect(parseRouteBundle(otherBundle.json).routes).toEqual([]);

    // Absent everywhere else, in any encoding.
    expect(responses.length).toBeGreaterThan(15);
    const inResponses = await canaryScan(responses, [CANARY, REFRESH_CANARY]);
    expect(inResponses.map((h) => h.where)).toEqual([]);
    const logText = t.logs.text();
    expect(logText.length).toBeGreaterThan(1000);
    expect(logText).toContain('[REDACTED]');
    const inLogs = await canaryScan([{ label: 'gateway log', content: logText }], [CANARY, REFRESH_CANARY]);
    expect(inLogs).toEqual([]);
    // Authorization headers are redacted by path in request logs as well.
    expect(logText).not.toContain(devToken);
    expect(logText).not.toContain(t.adminToken);
  });

  it('never reaches the raw SQLite file in clear', async () => {
    await t.call('POST', '/v1/providers', { body: { name: 'plan', type: 'claude-plan', credentials: { ANTHROPIC_OAUTH_TOKEN: CANARY } } });
    await t.gw.close();
    const hits = await canaryScan([{ path: `${t.dir}/data` }], [CANARY]);
    expect(hits).toEqual([]);
  });
});
