import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { createGateway } from './gateway.js';
import { checkListenPolicy, isLoopbackHost } from './listen-policy.js';
import { captureStream } from './logger.js';
import { startTestGateway, type TestGateway } from './testing-fixtures/gateway-fixture.js';
import type { ProbeResult } from './verify-probe.js';

let t: TestGateway | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await t?.close();
  t = undefined;
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('listen policy', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['::1', true],
    ['[::1]', true],
    ['localhost', true],
    ['::ffff:127.0.0.1', true],
    ['0.0.0.0', false],
    ['::', false],
    ['10.0.0.1', false],
    ['gateway.example.invalid', false],
  ])('%s is loopback: %s', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });

  it('refuses a non-loopback address without TLS and says why', async () => {
    expect(() => checkListenPolicy('0.0.0.0', false, false)).toThrow(/without TLS.*clear text.*--insecure/);
    expect(() => checkListenPolicy('0.0.0.0', true, false)).not.toThrow();
    expect(() => checkListenPolicy('0.0.0.0', false, true)).not.toThrow();
    const err = await createGateway({ listen: { host: '0.0.0.0', port: 0 }, kek: randomBytes(32), logStream: captureStream() }).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/refusing to listen on 0\.0\.0\.0 without TLS/);
  });
});

describe('real HTTP on loopback', () => {
  it('serves the API, writes the CLI gateway entry and marks it active', async () => {
    t = await startTestGateway();
    const url = await t.gw.start();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(t.gw.url).toBe(url);
    expect(await (await fetch(`${url}/readyz`)).json()).toEqual({ status: 'ready', store: 'sqlite' });
    const created = await fetch(`${url}/v1/providers`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'gh', type: 'gh', credentials: { GITHUB_TOKEN: 'ghp_http_test_token_0001' } }),
    });
    expect(created.status).toBe(201);
    expect((await created.json()).type).toBe('github');
    expect(created.headers.get('cache-control')).toBe('no-store');
    const unauth = await fetch(`${url}/v1/providers`);
    expect(unauth.status).toBe(401);
    const huge = await fetch(`${url}/v1/providers`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'big', type: 'github', credentials: { GITHUB_TOKEN: 'x'.repeat(2 * 1024 * 1024) } }),
    });
    expect(huge.status).toBe(413);
    expect((await huge.json()).error.code).toBe('payload_too_large');
    const entry = JSON.parse(await readFile(join(t.dir, 'config', 'gateways', 'local.json'), 'utf8'));
    expect(entry).toEqual({ name: 'local', url });
    expect((await readFile(join(t.dir, 'config', 'active'), 'utf8')).trim()).toBe('local');
  });

  it('serves HTTPS with --tls-cert/--tls-key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'osgw-tls-'));
    dirs.push(dir);
    await promisify(execFile)('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    ]);
    const cert = await readFile(join(dir, 'cert.pem'));
    t = await startTestGateway({ tls: { cert, key: await readFile(join(dir, 'key.pem')) }, caCertFile: join(dir, 'cert.pem') });
    const url = await t.gw.start();
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const entry = JSON.parse(await readFile(join(t.dir, 'config', 'gateways', 'local.json'), 'utf8'));
    expect(entry).toEqual({ name: 'local', url, caCertFile: join(dir, 'cert.pem') });
    const body = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest(`${url}/healthz`, { ca: cert }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
        });
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.end();
    });
    expect(JSON.parse(body)).toEqual({ status: 'ok' });
  });
});

describe('failed start', () => {
  it('an unusable TLS key fails the start; the data dir stays usable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'osgw-badtls-'));
    dirs.push(dir);
    const kek = randomBytes(32);
    const err = await startTestGateway({ dir, kek, tls: { cert: 'not a cert', key: 'not a key' } }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    // The failed start left nothing behind that blocks the next one.
    t = await startTestGateway({ dir, kek });
    expect((await t.call('GET', '/readyz', { token: null })).status).toBe(200);
  });
});

describe('graceful shutdown', () => {
  it('lets a request in flight finish, then closes the store', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => {
      release = r;
    });
    let probeStarted: () => void = () => undefined;
    const started = new Promise<void>((r) => {
      probeStarted = r;
    });
    t = await startTestGateway({
      probe: async (route): Promise<ProbeResult> => {
        probeStarted();
        await held;
        return { outcome: 'authenticated', status: 200, method: 'GET', url: route.baseUrl };
      },
    });
    const url = await t.gw.start();
    await t.call('POST', '/v1/providers', { body: { name: 'plan', type: 'anthropic-oauth', credentials: { ANTHROPIC_OAUTH_TOKEN: 'sk-ant-oat01-shutdown-0001' } } });
    const inFlight = fetch(`${url}/v1/inference/routes/inference.local`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ provider: 'plan' }),
    });
    await started;
    let closed = false;
    const closing = t.gw.close().then(() => {
      closed = true;
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(closed).toBe(false);
    release();
    const res = await inFlight;
    expect(res.status).toBe(200);
    await closing;
    expect(closed).toBe(true);
    await expect(t.gw.store.ping()).rejects.toThrow();
  });
});

describe('GET /metrics', () => {
  it('exposes request counters and store gauges in the Prometheus text format, to the admin only', async () => {
    t = await startTestGateway();
    await t.call('POST', '/v1/providers', { body: { name: 'gh', type: 'github', credentials: { GITHUB_TOKEN: 'ghp_metrics_token_0001' } } });
    await t.call('GET', '/v1/providers');
    await t.call('GET', '/v1/providers/nope');
    await t.call('POST', '/v1/sandboxes', { body: { name: 'dev', providers: ['gh'] } });
    const res = await t.call('GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.text).toContain('# TYPE openshell_gateway_http_requests_total counter');
    expect(res.text).toContain('openshell_gateway_http_requests_total{method="GET",route="/v1/providers",status="200"} 1');
    expect(res.text).toContain('openshell_gateway_http_requests_total{method="GET",route="/v1/providers/:name",status="404"} 1');
    expect(res.text).toContain('openshell_gateway_providers{type="github"} 1');
    expect(res.text).toContain('openshell_gateway_sandboxes 1');
    expect(res.text).toContain('openshell_gateway_refresh_credentials{status="reauth_required"} 0');
    expect((await t.call('GET', '/metrics', { token: null })).status).toBe(401);
  });
});
