// Hostile clients of the gateway's listening socket (not app.inject): conflicting framing, oversized
// headers, duplicated Authorization lines, credentials in places the gateway must not read them,
// 300 long-polls held open by one sandbox, and slow-loris connections. The gateway answers each with a
// clear 4xx in its own shape (or closes a malformed connection), never a 5xx, and keeps answering
// admins promptly; closed long-polls free their resources.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './testing-fixtures/gateway-fixture.js';

let t: TestGateway;
let port: number;
let sandboxToken: string;

beforeAll(async () => {
  t = await startTestGateway();
  const url = await t.gw.start();
  port = Number(new URL(url).port);
  expect((await t.call('POST', '/v1/providers', { body: { name: 'p', type: 'anthropic', credentials: { ANTHROPIC_API_KEY: 'sk-ant-api03-dos-0123456789' } } })).status).toBe(201);
  expect((await t.call('PUT', '/v1/inference/routes/inference.local', { body: { provider: 'p', verify: false } })).status).toBe(200);
  sandboxToken = (await t.call('POST', '/v1/sandboxes', { body: { name: 'dos', providers: ['p'] } })).json.token;
});

afterAll(async () => {
  await t?.close();
});

function raw(bytes: string, timeoutMs = 3_000): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let text = '';
    const timer = setTimeout(() => s.destroy(), timeoutMs);
    s.on('data', (c: Buffer) => {
      text += c.toString('latin1');
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
    s.write(bytes);
  });
}

/** Long-polls the gateway holds right now (its own gauge). */
async function waiters(): Promise<number> {
  const m = await t.call('GET', '/metrics');
  return Number(/^openshell_gateway_bundle_waiters (\d+)/m.exec(m.text)?.[1] ?? -1);
}

function statusOf(text: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
}

async function adminPing(): Promise<number> {
  const started = Date.now();
  const res = await fetch(`http://127.0.0.1:${port}/v1/providers`, { headers: { authorization: `Bearer ${t.adminToken}` } });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
  return Date.now() - started;
}

describe('hostile HTTP on the gateway socket', () => {
  it('Content-Length with Transfer-Encoding: 400, nothing created', async () => {
    const body = JSON.stringify({ name: 'smuggled', type: 'anthropic', credentials: { ANTHROPIC_API_KEY: 'k' } });
    const text = await raw(
      `POST /v1/providers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t.adminToken}\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
    );
    expect(statusOf(text)).toBe(400);
    expect(await t.gw.store.getProvider('smuggled')).toBeUndefined();
  });

  it('a request smuggled after a short Content-Length is parsed as its own request and authenticated on its own', async () => {
    const inner = 'DELETE /v1/providers/p?force=true HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
    const text = await raw(`POST /v1/sandbox/routes/inference.local/credential-rejected HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${sandboxToken}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}${inner}`);
    const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
    // The first request is answered on its own (refused: an empty report, or no refresh engine in this gateway).
    expect(statuses[0]).toBeGreaterThanOrEqual(400);
    expect(statuses[0]).toBeLessThan(500);
    // The trailing DELETE carried no token: 401, and the provider is still there.
    if (statuses.length > 1) expect(statuses[1]).toBe(401);
    expect(await t.gw.store.getProvider('p')).toBeDefined();
  });

  it('Authorization duplicated (garbage first, admin second): refused', async () => {
    const text = await raw(`GET /v1/providers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer garbage\r\nAuthorization: Bearer ${t.adminToken}\r\nConnection: close\r\n\r\n`);
    expect(statusOf(text)).toBe(401);
    expect(text).not.toContain('sk-ant-api03-dos');
  });

  it('a token in the query string or a cookie is not accepted', async () => {
    for (const req of [
      `GET /v1/providers?token=${t.adminToken} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      `GET /v1/providers?access_token=${t.adminToken} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      `GET /v1/providers HTTP/1.1\r\nHost: x\r\nCookie: token=${t.adminToken}\r\nConnection: close\r\n\r\n`,
      `GET /v1/sandbox/bundle HTTP/1.1\r\nHost: x\r\nX-Api-Key: ${sandboxToken}\r\nConnection: close\r\n\r\n`,
      `GET /v1/providers HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${Buffer.from(`admin:${t.adminToken}`).toString('base64')}\r\nConnection: close\r\n\r\n`,
    ]) {
      const text = await raw(req);
      expect(statusOf(text), req.split('\r\n')[0]).toBe(401);
      expect(text).toMatch(/"error":\{"code":"[a-z_]+","message":"[^"]{8,}/);
    }
  });

  it('a 64 KB header: refused with a 4xx, the gateway keeps serving', async () => {
    const text = await raw(`GET /v1/providers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t.adminToken}\r\nX-Pad: ${'a'.repeat(64 * 1024)}\r\nConnection: close\r\n\r\n`);
    expect(statusOf(text)).toBeGreaterThanOrEqual(400);
    expect(statusOf(text)).toBeLessThan(500);
    await adminPing();
  });

  it('a body beyond the limit is refused with 413 before it is read whole', async () => {
    const text = await raw(`POST /v1/providers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t.adminToken}\r\nContent-Type: application/json\r\nContent-Length: ${200 * 1024 * 1024}\r\n\r\n{"name":`, 5_000);
    expect(statusOf(text)).toBe(413);
  });

  it('300 long-polls held by one sandbox and 50 slow-loris connections: admins are still served; closing them frees everything', async () => {
    const bundle = await t.call('GET', '/v1/sandbox/bundle', { token: sandboxToken });
    const revision = bundle.json.revision as string;
    const held: net.Socket[] = [];
    try {
      for (let i = 0; i < 300; i++) {
        const s = net.connect({ host: '127.0.0.1', port });
        s.on('error', () => undefined);
        s.write(`GET /v1/sandbox/bundle?revision=${encodeURIComponent(revision)}&waitSeconds=60 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${sandboxToken}\r\n\r\n`);
        held.push(s);
      }
      for (let i = 0; i < 50; i++) {
        const s = net.connect({ host: '127.0.0.1', port });
        s.on('error', () => undefined);
        s.write(`GET /v1/providers HTTP/1.1\r\nHost: x\r\nX-Slow: `);
        held.push(s);
      }
      for (let i = 0; i < 100 && (await waiters()) < 300; i++) await new Promise((r) => setTimeout(r, 50));
      expect(await waiters()).toBe(300);
      for (let i = 0; i < 5; i++) await adminPing();
      // Clients that go away free their long-polls at once.
      for (const s of held.slice(200, 300)) s.destroy();
      for (let i = 0; i < 100 && (await waiters()) > 200; i++) await new Promise((r) => setTimeout(r, 50));
      expect(await waiters()).toBe(200);
      // A change wakes every remaining long-poll at once: all 200 answer with the new revision.
      const answered = Promise.all(
        held.slice(0, 200).map(
          (s) =>
            new Promise<string>((resolve) => {
              let text = '';
              s.on('data', (c: Buffer) => {
                text += c.toString();
                if (/\r\n\r\n[\s\S]*"revision"/.test(text)) resolve(text);
              });
              setTimeout(() => resolve(text), 10_000);
            }),
        ),
      );
      expect((await t.call('PATCH', '/v1/providers/p', { body: { resourceVersion: (await t.gw.store.getProvider('p'))?.resourceVersion, config: { ANTHROPIC_BASE_URL: 'http://127.0.0.1:9/v1' } } })).status).toBe(200);
      const texts = await answered;
      expect(texts.filter((x) => statusOf(x) === 200 && !x.includes(`"revision":"${revision}"`)).length).toBe(200);
    } finally {
      for (const s of held) s.destroy();
    }
    // Every waiter is released: none left behind.
    for (let i = 0; i < 100 && (await waiters()) > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await waiters()).toBe(0);
    await adminPing();
  }, 60_000);
});
