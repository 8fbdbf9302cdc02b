import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createGateway } from '../gateway.js';
import { captureStream } from '../logger.js';
import { startTestGateway, type TestGateway } from '../testing-fixtures/gateway-fixture.js';

const ACME = `id: acme
display_name: Acme
description: Acme internal API.
category: other
inference_capable: false
credentials:
  - name: token
    env_vars: [ACME_TOKEN]
    required: true
    injectable: true
endpoints:
  - host: api.acme.invalid
    port: 443
`;

const GITHUB_SHADOW = `id: github
display_name: GitHub (company)
description: Company GitHub Enterprise.
category: source_control
inference_capable: false
credentials:
  - name: token
    env_vars: [GHE_TOKEN]
    required: true
    injectable: true
endpoints:
  - host: ghe.example.invalid
    port: 443
`;

const HTTP_TOKEN_URL = `id: leaky
display_name: Leaky
description: Token URL over plain http.
category: other
inference_capable: false
credentials:
  - name: token
    env_vars: [LEAKY_TOKEN]
    required: true
    refresh:
      strategy: oauth2_refresh_token
      token_urls: [http://auth.example.invalid/oauth/token]
`;

let t: TestGateway | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await t?.close();
  t = undefined;
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function profilesDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'osgw-profiles-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

describe('GET /v1/profiles', () => {
  it('lists the built-in catalogue and gets a profile by id or alias', async () => {
    t = await startTestGateway();
    const list = await t.call('GET', '/v1/profiles');
    expect(list.status).toBe(200);
    const ids = list.json.profiles.map((p: { id: string }) => p.id);
    expect(ids).toEqual(expect.arrayContaining(['anthropic', 'anthropic-oauth', 'openai', 'github']));
    const byAlias = await t.call('GET', '/v1/profiles/claude-plan');
    expect(byAlias.json).toMatchObject({ id: 'anthropic-oauth', source: 'builtin', experimental: true });
    expect(byAlias.json.routing.credentialLookup).toBe('preferred-only');
    const missing = await t.call('GET', '/v1/profiles/nope');
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe('profile_not_found');
  });

  it('adds --profiles-dir profiles, logs a shadowed built-in, and accepts the new type for providers', async () => {
    const dir = await profilesDir({ 'acme.yaml': ACME, 'github.yaml': GITHUB_SHADOW });
    t = await startTestGateway({ profilesDir: dir });
    const acme = await t.call('GET', '/v1/profiles/acme');
    expect(acme.json).toMatchObject({ id: 'acme', source: 'admin' });
    const gh = await t.call('GET', '/v1/profiles/github');
    expect(gh.json).toMatchObject({ display_name: 'GitHub (company)', source: 'admin' });
    const shadowLine = t.logs.lines().find((l) => l.includes('shadows the built-in'));
    expect(shadowLine).toContain('"profile":"github"');
    const created = await t.call('POST', '/v1/providers', { body: { name: 'acme1', type: 'ACME', credentials: { ACME_TOKEN: 'acme-token-value-1' } } });
    expect(created.status).toBe(201);
    expect(created.json.type).toBe('acme');
  });
});

describe('invalid --profiles-dir', () => {
  it('stops the start listing every problem, including a plain-http token URL', async () => {
    const dir = await profilesDir({ 'bad.yaml': 'id: [unclosed', 'leaky.yaml': HTTP_TOKEN_URL, 'empty-id.yaml': 'id: ""\n' });
    const data = await mkdtemp(join(tmpdir(), 'osgw-'));
    dirs.push(data);
    await mkdir(join(data, 'config'));
    const err = await createGateway({
      profilesDir: dir,
      dataDir: join(data, 'data'),
      configDir: join(data, 'config'),
      kek: randomBytes(32),
      logStream: captureStream(),
    }).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(err?.code).toBe('invalid_profile');
    expect(err?.message).toContain('bad.yaml');
    expect(err?.message).toContain('leaky.yaml');
    expect(err?.message).toContain('empty-id.yaml');
    expect(err?.message).toMatch(/must use https/);
  });

  it('reports an unreadable directory', async () => {
    const err = await createGateway({
      profilesDir: join(tmpdir(), `osgw-missing-${randomBytes(4).toString('hex')}`),
      kek: randomBytes(32),
      logStream: captureStream(),
    }).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(err?.code).toBe('invalid_profile');
    expect(err?.message).toMatch(/cannot read the profiles directory/);
  });
});
