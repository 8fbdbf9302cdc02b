import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { requirementForPath } from './auth.js';
import { startTestGateway, type TestGateway } from './testing-fixtures/gateway-fixture.js';

let t: TestGateway | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

async function withSandbox(name: string, gw: TestGateway): Promise<string> {
  const res = await gw.call('POST', '/v1/sandboxes', { body: { name } });
  expect(res.status).toBe(201);
  return res.json.token as string;
}

describe('requirementForPath', () => {
  it.each([
    ['/healthz', 'none'],
    ['/readyz?x=1', 'none'],
    ['/v1/sandbox/bundle?revision=a', 'sandbox'],
    ['/v1/sandbox/routes/inference.local/credential-rejected', 'sandbox'],
    ['/v1/sandboxes', 'admin'],
    ['/v1/sandboxes/dev/tokens', 'admin'],
    ['/metrics', 'admin'],
    ['/v1/unknown', 'admin'],
  ])('%s needs %s', (path, expected) => {
    expect(requirementForPath(path)).toBe(expected);
  });
});

describe('admin token', () => {
  it('is written 0600 at first start with the osa_ prefix; only its hash is stored', async () => {
    t = await startTestGateway();
    expect(t.adminToken).toMatch(/^osa_[A-Za-z0-9_-]{43}$/);
    const file = t.gw.adminTokenFile as string;
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const hash = await t.gw.store.getAdminTokenHash();
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hash).not.toContain(t.adminToken);
  });

  it('is kept across restarts: the file is not rewritten and the token still works', async () => {
    const kek = randomBytes(32);
    const dir = await mkdtemp(join(tmpdir(), 'osgw-restart-'));
    try {
      const first = await startTestGateway({ dir, kek });
      const token = first.adminToken;
      const before = await stat(first.gw.adminTokenFile as string);
      await first.close();
      t = await startTestGateway({ dir, kek });
      expect(t.adminToken).toBe(token);
      expect((await stat(t.gw.adminTokenFile as string)).mtimeMs).toBe(before.mtimeMs);
      expect((await t.call('GET', '/v1/providers', { token })).status).toBe(200);
    } finally {
      await t?.close();
      t = undefined;
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('warns when the token file belongs to another gateway with the same name', async () => {
    const root = await mkdtemp(join(tmpdir(), 'osgw-shared-config-'));
    const shared = join(root, 'config');
    const kekA = randomBytes(32);
    try {
      const a = await startTestGateway({ dir: join(root, 'a'), configDir: shared, kek: kekA });
      await a.close();
      const b = await startTestGateway({ dir: join(root, 'b'), configDir: shared });
      expect(b.adminToken).not.toBe(a.adminToken);
      await b.close();
      t = await startTestGateway({ dir: join(root, 'a'), configDir: shared, kek: kekA });
      expect(t.gw.adminTokenFile).toBeUndefined();
      expect(t.logs.text()).toContain("does not hold this gateway's admin token");
      expect((await t.call('GET', '/v1/providers', { token: a.adminToken })).status).toBe(200);
    } finally {
      await t?.close();
      t = undefined;
      await rm(root, { recursive: true, force: true });
    }
  });

  it('refuses requests without a token, with a malformed header or with a wrong token', async () => {
    t = await startTestGateway();
    const none = await t.call('GET', '/v1/providers', { token: null });
    expect(none.status).toBe(401);
    expect(none.json.error.code).toBe('unauthenticated');
    const basic = await t.call('GET', '/v1/providers', { token: null, headers: { authorization: 'Basic Zm9vOmJhcg==' } });
    expect(basic.status).toBe(401);
    expect(basic.json.error.code).toBe('unauthenticated');
    const wrong = await t.call('GET', '/v1/providers', { token: `osa_${'A'.repeat(43)}` });
    expect(wrong.status).toBe(401);
    expect(wrong.json.error.code).toBe('invalid_token');
    const foreign = await t.call('GET', '/v1/providers', { token: 'sk-ant-api03-not-ours' });
    expect(foreign.json.error.code).toBe('invalid_token');
    const unknownPath = await t.call('GET', '/v1/nothing', { token: null });
    expect(unknownPath.status).toBe(401);
    const knownUnknown = await t.call('GET', '/v1/nothing');
    expect(knownUnknown.status).toBe(404);
    expect(knownUnknown.json.error.code).toBe('not_found');
  });

  it('rotates: the old token stops working at once, the new one is returned once and written to the file', async () => {
    t = await startTestGateway();
    const old = t.adminToken;
    const res = await t.call('POST', '/v1/admin/token/rotate');
    expect(res.status).toBe(200);
    const fresh = res.json.token as string;
    expect(fresh).toMatch(/^osa_/);
    expect(fresh).not.toBe(old);
    expect((await readFile(res.json.tokenFile, 'utf8')).trim()).toBe(fresh);
    expect((await stat(res.json.tokenFile)).mode & 0o777).toBe(0o600);
    expect((await t.call('GET', '/v1/providers', { token: old })).status).toBe(401);
    expect((await t.call('GET', '/v1/providers', { token: fresh })).status).toBe(200);
    const logs = t.logs.text();
    expect(logs).not.toContain(fresh);
  });
});

describe('sandbox tokens', () => {
  it('are refused on admin endpoints (403) and the admin token is refused on sandbox endpoints (403)', async () => {
    t = await startTestGateway();
    const token = await withSandbox('dev', t);
    expect(token).toMatch(/^oss_/);
    for (const [method, url] of [
      ['GET', '/v1/providers'],
      ['GET', '/v1/sandboxes/dev'],
      ['POST', '/v1/sandboxes/dev/tokens'],
      ['GET', '/metrics'],
      ['POST', '/v1/admin/token/rotate'],
    ] as const) {
      const res = await t.call(method, url, { token });
      expect(res.status, `${method} ${url}`).toBe(403);
      expect(res.json.error.code).toBe('forbidden');
    }
    const adminOnSandbox = await t.call('GET', '/v1/sandbox/bundle');
    expect(adminOnSandbox.status).toBe(403);
    expect(adminOnSandbox.json.error.code).toBe('forbidden');
  });

  it('a wrong sandbox token is 401', async () => {
    t = await startTestGateway();
    const res = await t.call('GET', '/v1/sandbox/bundle', { token: `oss_${'B'.repeat(43)}` });
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe('invalid_token');
  });

  it('one sandbox cannot read another sandbox\'s bundle or environment', async () => {
    t = await startTestGateway();
    const a = await withSandbox('a', t);
    await withSandbox('b', t);
    for (const url of ['/v1/sandbox/bundle?sandbox=b', '/v1/sandbox/environment?sandbox=b']) {
      const res = await t.call('GET', url, { token: a });
      expect(res.status).toBe(403);
      expect(res.json.error.message).toContain("belongs to sandbox 'a'");
    }
    expect((await t.call('GET', '/v1/sandbox/bundle?sandbox=a', { token: a })).status).toBe(200);
  });

  it('stop working at once when the sandbox is deleted', async () => {
    t = await startTestGateway();
    const token = await withSandbox('dev', t);
    const extra = await t.call('POST', '/v1/sandboxes/dev/tokens', { body: { ttlSeconds: 600 } });
    expect((await t.call('GET', '/v1/sandbox/environment', { token })).status).toBe(200);
    expect((await t.call('DELETE', '/v1/sandboxes/dev')).status).toBe(200);
    for (const tok of [token, extra.json.token]) {
      const res = await t.call('GET', '/v1/sandbox/environment', { token: tok });
      expect(res.status).toBe(401);
      expect(res.json.error.code).toBe('invalid_token');
    }
    // A new sandbox with the same name does not revive the old tokens.
    await withSandbox('dev', t);
    expect((await t.call('GET', '/v1/sandbox/environment', { token })).status).toBe(401);
  });

  it('with a TTL expire', async () => {
    let now = Date.now();
    t = await startTestGateway({ clock: () => now });
    await withSandbox('dev', t);
    const issued = await t.call('POST', '/v1/sandboxes/dev/tokens', { body: { ttlSeconds: 60 } });
    expect(issued.status).toBe(201);
    expect(issued.json.expiresAt).toBe(now + 60_000);
    expect((await t.call('GET', '/v1/sandbox/environment', { token: issued.json.token })).status).toBe(200);
    now += 61_000;
    const expired = await t.call('GET', '/v1/sandbox/environment', { token: issued.json.token });
    expect(expired.status).toBe(401);
    expect(expired.json.error.code).toBe('invalid_token');
  });
});
