// Malicious `--profiles-dir` entries (DESIGN §3.2, §5): a token or authorize URL that would send a
// refresh token in clear text to a non-loopback host, or smuggle credentials in the URL, or is no
// http(s) URL at all, stops the gateway at start with an error naming the file and the field, before
// anything is created. A token endpoint that answers with a redirect is never followed: the refresh
// token goes nowhere else and the failure is reported.
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway } from './gateway.js';
import { startTestGateway } from './testing-fixtures/gateway-fixture.js';

const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');
let builtin: string;
let root: string;

beforeAll(async () => {
  builtin = await readFile(join(REPO, 'providers', 'anthropic-oauth.yaml'), 'utf8');
  root = await mkdtemp(join(tmpdir(), 'osh-profiles-hostile-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** The built-in anthropic-oauth profile with its token URLs (and optionally authorize URL) replaced. */
function withUrls(tokenUrls: readonly string[], authorizeUrl?: string): string {
  const text = builtin.replace(/token_urls:\n(?:\s+- .*\n)+/, `token_urls:\n${tokenUrls.map((u) => `        - ${JSON.stringify(u)}\n`).join('')}`);
  return authorizeUrl === undefined ? text : text.replace(/authorize_url: .*/, `authorize_url: ${JSON.stringify(authorizeUrl)}`);
}

let seq = 0;
async function attempt(files: Record<string, string>): Promise<{ error: { code?: string; message: string } | undefined; dir: string }> {
  const dir = join(root, `case-${++seq}`);
  const profiles = join(dir, 'profiles');
  await mkdir(profiles, { recursive: true });
  for (const [name, text] of Object.entries(files)) await writeFile(join(profiles, name), text);
  let error: { code?: string; message: string } | undefined;
  try {
    const gw = await createGateway({ dataDir: join(dir, 'data'), configDir: join(dir, 'config'), profilesDir: profiles, listen: { host: '127.0.0.1', port: 0 }, refresh: false, logLevel: 'silent' });
    await gw.close();
  } catch (err) {
    error = err as { code?: string; message: string };
  }
  return { error, dir };
}

const REFUSED_TOKEN_URLS: ReadonlyArray<[string, RegExp]> = [
  ['http://evil.invalid/v1/oauth/token', /must use https/],
  ['http://127.0.0.1.evil.invalid/token', /must use https/],
  ['http://localhost.invalid/token', /must use https/],
  ['http://0x7f000001.invalid/token', /must use https/],
  ['https://user:secret@auth.invalid/token', /user name or password/],
  ['http://evil.invalid@127.0.0.1/token', /user name or password/],
  ['file:///etc/passwd', /https/],
  ['ftp://127.0.0.1/token', /https/],
  ['javascript:alert(1)', /https/],
  ['//evil.invalid/token', /absolute https URL/],
  ['/v1/oauth/token', /absolute https URL/],
  ['https://auth.invalid/token#frag', /fragment/],
];

describe('malicious --profiles-dir entries are refused at start, nothing created', () => {
  for (const [url, says] of REFUSED_TOKEN_URLS) {
    it(`token URL ${url}`, async () => {
      // A good URL first, the bad one second: every entry of the list is checked.
      const { error, dir } = await attempt({ 'anthropic-oauth.yaml': withUrls(['https://platform.claude.com/v1/oauth/token', url]) });
      expect(error, 'the gateway started with a malicious token URL').toBeDefined();
      expect(error?.code).toBe('invalid_profile');
      expect(error?.message).toMatch(says);
      expect(error?.message).toMatch(/anthropic-oauth/);
      expect(error?.message).toMatch(/token_urls/);
      expect(error?.message).not.toContain('secret@');
      expect(existsSync(join(dir, 'data', 'gateway.db')), 'a store was created').toBe(false);
      expect(existsSync(join(dir, 'config', 'gateways')), 'an admin token was written').toBe(false);
    });
  }

  it('authorize URL on plain http to a non-loopback host', async () => {
    const { error } = await attempt({ 'anthropic-oauth.yaml': withUrls(['https://platform.claude.com/v1/oauth/token'], 'http://evil.invalid/authorize') });
    expect(error?.code).toBe('invalid_profile');
    expect(error?.message).toMatch(/authorize_url/);
  });

  it('a YAML alias bomb is refused quickly with a clear error', async () => {
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]', ...Array.from({ length: 9 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(',')}]`)].join('\n');
    const { error } = await attempt({ 'bomb.yaml': `id: bomb\n${bomb}\n` });
    expect(error).toBeDefined();
    expect(error?.message).toMatch(/bomb/);
  });

  it('a file that is not YAML, and one with wrong types, are refused naming the file', async () => {
    const garbage = await attempt({ 'garbage.yaml': '\u0000\u0001: [unclosed' });
    expect(garbage.error?.message).toMatch(/garbage/);
    const types = await attempt({ 'types.yaml': builtin.replace(/^id: anthropic-oauth$/m, 'id: types-oauth').replace('refresh_before_seconds: 300', 'refresh_before_seconds: "soon"') });
    expect(types.error?.code).toBe('invalid_profile');
    expect(types.error?.message).toMatch(/refresh_before_seconds/);
  });

  it('a loopback http token URL (tests, local dev) is accepted', async () => {
    const { error } = await attempt({ 'anthropic-oauth.yaml': withUrls(['http://127.0.0.1:9/token', 'http://[::1]:9/token', 'http://localhost:9/token']) });
    expect(error).toBeUndefined();
  });
});

describe('a token endpoint that redirects is not followed', () => {
  for (const status of [301, 302, 303, 307, 308]) {
    it(`${status} to another host: the refresh token goes nowhere else, the failure is reported`, async () => {
      let sentinelConnections = 0;
      const sentinel = net.createServer((s) => {
        sentinelConnections++;
        s.destroy();
      });
      sentinel.listen(0, '127.0.0.2');
      await once(sentinel, 'listening');
      const sentinelPort = (sentinel.address() as AddressInfo).port;
      const seen: string[] = [];
      const redirector = http.createServer((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => {
          body += c.toString();
        });
        req.on('end', () => {
          seen.push(body);
          res.writeHead(status, { location: `http://127.0.0.2:${sentinelPort}/v1/oauth/token` });
          res.end();
        });
      });
      redirector.listen(0, '127.0.0.1');
      await once(redirector, 'listening');
      const port = (redirector.address() as AddressInfo).port;
      const dir = join(root, `redirect-${status}`);
      await mkdir(join(dir, 'profiles'), { recursive: true });
      await writeFile(join(dir, 'profiles', 'anthropic-oauth.yaml'), withUrls([`http://127.0.0.1:${port}/v1/oauth/token`]));
      const t = await startTestGateway({ dir, refresh: true, profilesDir: join(dir, 'profiles') });
      try {
        const refreshToken = 'sk-ant-ort01-redirect-canary-0123456789';
        expect((await t.call('POST', '/v1/providers', { body: { name: 'plan', type: 'anthropic-oauth', credentials: { ANTHROPIC_OAUTH_TOKEN: 'sk-ant-oat01-x' } } })).status).toBe(201);
        expect((await t.call('PUT', '/v1/providers/plan/refresh', { body: { material: { refresh_token: refreshToken }, expiresAt: Date.now() + 3_600_000 } })).status).toBe(200);
        const rotated = await t.call('POST', '/v1/providers/plan/refresh/rotate', { body: {} });
        expect(rotated.status).toBeGreaterThanOrEqual(400);
        expect(rotated.status).toBeLessThan(600);
        expect(rotated.json.error.code).toMatch(/refresh_failed|reauth_required/);
        expect(JSON.stringify(rotated.json)).toMatch(/redirect|3\d\d/i);
        expect(JSON.stringify(rotated.json)).not.toContain(refreshToken);
        expect(sentinelConnections, 'the redirect was followed').toBe(0);
        // The token endpoint itself was asked (once per attempt), nothing else.
        expect(seen.length).toBeGreaterThanOrEqual(1);
        // The access token in the store is unchanged.
        const provider = await t.gw.store.getProvider('plan');
        expect(provider?.credentials.ANTHROPIC_OAUTH_TOKEN).toBe('sk-ant-oat01-x');
        expect(t.logs.text()).not.toContain(refreshToken);
      } finally {
        await t.close();
        await new Promise<void>((r) => redirector.close(() => r()));
        await new Promise<void>((r) => sentinel.close(() => r()));
      }
    });
  }
});
