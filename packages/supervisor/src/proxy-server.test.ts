import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { createProxyAuth } from './proxy-auth.js';
import { createProxyServer, type ProxyServer, RELAY_PREAMBLE } from './proxy-server.js';
import { createSandboxCa } from './sandbox-ca.js';
import type { LeanRequest, LeanResponse } from './lean-relay.js';

// Every case runs twice: with node:http alone, and with the lean front in front of it (the supervisor's
// configuration), which must hand every odd request to node:http and so give the same answers.
describe.each(['node:http', 'lean'] as const)('%s front', (front) => {
  /** The lean test handler marks its answers, so these cases prove which front served them. */
  const servedBy = front === 'lean' ? { front: 'lean' } : {};

const run = promisify(execFile);
const PRELOAD = fileURLToPath(new URL('../preload/node-fetch-proxy.mjs', import.meta.url));

let dir: string;
let proxy: ProxyServer;
let port: number;
let proxyUrl: string;
let caFile: string;
let otherCaFile: string;
let allowedServer: net.Server;
let allowedPort: number;
const logLines: string[] = [];
const handled: string[] = [];
const auth = createProxyAuth();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'osh-proxy-'));
  const ca = await createSandboxCa();
  caFile = join(dir, 'ca.pem');
  otherCaFile = join(dir, 'other.pem');
  await writeFile(caFile, ca.certPem);
  await writeFile(otherCaFile, (await createSandboxCa()).certPem);
  // An allow-listed destination: a plain TCP echo server on loopback.
  allowedServer = net.createServer((s) => s.pipe(s));
  allowedServer.listen(0, '127.0.0.1');
  await once(allowedServer, 'listening');
  allowedPort = (allowedServer.address() as AddressInfo).port;
  proxy = await createProxyServer({
    auth,
    ca,
    log: createLogger({ stream: { write: (s: string) => logLines.push(s) }, level: 'debug' }),
    egress: () => [{ host: '127.0.0.1', port: allowedPort }],
    async handleInference(req, res, ctx) {
      handled.push(`${req.method} ${ctx.path}`);
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = JSON.stringify({ scheme: ctx.scheme, path: ctx.path, method: req.method, bytes: Buffer.concat(chunks).length });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    },
    ...(front === 'lean'
      ? {
          async handleInferenceLean(req: LeanRequest, res: LeanResponse, ctx: InferenceRequestContext) {
            handled.push(`${req.method} ${ctx.path}`);
            const body = JSON.stringify({ scheme: ctx.scheme, path: ctx.path, method: req.method, bytes: req.body?.length ?? 0, front: 'lean' });
            res.writeHead(200, ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(body))]);
            res.end(body);
          },
        }
      : {}),
  });
  ({ port } = await proxy.listenTcp());
  proxyUrl = auth.proxyUrl('127.0.0.1', port);
});

afterAll(async () => {
  await proxy.close();
  allowedServer.close();
  await rm(dir, { recursive: true, force: true });
});

async function curl(args: string[], env: Record<string, string> = {}) {
  const res = await run('curl', ['-sS', '--max-time', '10', '-w', '\n%{http_code}', ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
  }).catch((e: { stdout?: string; stderr?: string; code?: number }) => ({ stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: e.code }));
  const out = res.stdout;
  const nl = out.lastIndexOf('\n');
  return { body: out.slice(0, nl), status: out.slice(nl + 1), stderr: res.stderr, code: 'code' in res ? res.code : 0 };
}

/** Sends raw bytes on one connection and collects everything until the peer closes or `ms` pass. */
async function rawExchange(host: string, p: number, steps: string[], ms = 2000): Promise<{ text: string; closed: boolean }> {
  const socket = net.connect(p, host);
  await once(socket, 'connect');
  let text = '';
  let closed = false;
  socket.on('data', (d) => {
    text += d.toString('latin1');
  });
  socket.on('close', () => {
    closed = true;
  });
  socket.on('error', () => undefined);
  for (const step of steps) {
    const before = text.length;
    socket.write(step);
    for (let i = 0; i < ms / 10 && text.length === before && !closed; i++) await new Promise((r) => setTimeout(r, 10));
    // Let the rest of the response arrive.
    await new Promise((r) => setTimeout(r, 30));
  }
  for (let i = 0; i < 50 && !closed; i++) await new Promise((r) => setTimeout(r, 10));
  socket.destroy();
  return { text, closed };
}

const basic = () => `Basic ${Buffer.from(`sandbox:${auth.revealNonce()}`).toString('base64')}`;

describe('proxy server', () => {
  it('terminates TLS for https://inference.local with a certificate curl verifies against the sandbox CA', async () => {
    const ok = await curl(['https://inference.local/v1/models?limit=2'], { HTTPS_PROXY: proxyUrl, CURL_CA_BUNDLE: caFile });
    expect(ok.status).toBe('200');
    expect(JSON.parse(ok.body)).toEqual({ scheme: 'https', path: '/v1/models?limit=2', method: 'GET', bytes: 0, ...servedBy });
    const bad = await curl(['https://inference.local/v1/models'], { HTTPS_PROXY: proxyUrl, CURL_CA_BUNDLE: otherCaFile });
    expect(bad.code).toBe(60); // peer certificate cannot be authenticated with the given CA
  });

  it('serves http://inference.local absolute-URI requests', async () => {
    const res = await curl(['-X', 'POST', '--data-binary', 'hello', 'http://inference.local/v1/messages?beta=true'], { http_proxy: proxyUrl });
    expect(res.status).toBe('200');
    expect(JSON.parse(res.body)).toEqual({ scheme: 'http', path: '/v1/messages?beta=true', method: 'POST', bytes: 5, ...servedBy });
  });

  it('refuses requests without the per-run secret (407), for CONNECT and plain HTTP', async () => {
    const noAuth = `http://127.0.0.1:${port}`;
    expect((await curl(['http://inference.local/v1/models'], { http_proxy: noAuth })).status).toBe('407');
    const c = await curl(['https://inference.local/v1/models'], { HTTPS_PROXY: noAuth, CURL_CA_BUNDLE: caFile });
    expect(c.code).not.toBe(0);
    expect(c.stderr).toMatch(/407/);
    const wrong = `http://sandbox:${'0'.repeat(32)}@127.0.0.1:${port}`;
    expect((await curl(['http://inference.local/v1/models'], { http_proxy: wrong })).status).toBe('407');
  });

  it('tunnels CONNECT to an allow-listed host:port untouched', async () => {
    const { text } = await rawExchange('127.0.0.1', port, [
      `CONNECT 127.0.0.1:${allowedPort} HTTP/1.1\r\nHost: 127.0.0.1:${allowedPort}\r\nProxy-Authorization: ${basic()}\r\n\r\n`,
      'ping-through-tunnel',
    ]);
    expect(text).toMatch(/^HTTP\/1.1 200 Connection Established\r\n\r\n/);
    expect(text).toContain('ping-through-tunnel');
  });

  it.each([
    ['127.0.0.2', () => `127.0.0.2:${allowedPort}`],
    ['*.invalid', () => 'api.anthropic.com.invalid:443'],
    ['a port not listed', () => '127.0.0.1:1'],
  ])('denies CONNECT to %s with 403, a JSON reason and a log line naming the destination', async (_name, targetOf) => {
    const target = targetOf();
    const { text, closed } = await rawExchange('127.0.0.1', port, [
      `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\nProxy-Authorization: ${basic()}\r\n\r\n`,
    ]);
    expect(text).toMatch(/^HTTP\/1.1 403 Forbidden/);
    const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { error: { code: string; message: string; destination: string } };
    expect(body.error.code).toBe('egress_denied');
    expect(body.error.message).toContain('allow-list');
    expect(closed).toBe(true);
    expect(logLines.some((l) => l.includes('egress denied') && l.includes(`destination=${body.error.destination}`))).toBe(true);
  });

  it('denies curl to a *.invalid host through the proxy', async () => {
    const res = await curl(['https://upstream.invalid/'], { HTTPS_PROXY: proxyUrl });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/403/);
  });

  it('checks every request on a kept-alive connection: a later request to a denied destination is refused', async () => {
    const { text, closed } = await rawExchange('127.0.0.1', port, [
      `GET http://inference.local/v1/models HTTP/1.1\r\nHost: inference.local\r\nProxy-Authorization: ${basic()}\r\n\r\n`,
      `GET http://127.0.0.2/ HTTP/1.1\r\nHost: 127.0.0.2\r\nProxy-Authorization: ${basic()}\r\n\r\n`,
      `GET http://inference.local/v1/models HTTP/1.1\r\nHost: inference.local\r\nProxy-Authorization: ${basic()}\r\n\r\n`,
    ]);
    const statuses = [...text.matchAll(/HTTP\/1.1 (\d{3})/g)].map((m) => m[1]);
    expect(statuses).toEqual(['200', '403']);
    expect(closed).toBe(true);
  });

  it('a kept-alive connection cannot drop the secret after a first good request', async () => {
    const { text } = await rawExchange('127.0.0.1', port, [
      `GET http://inference.local/v1/models HTTP/1.1\r\nHost: inference.local\r\nProxy-Authorization: ${basic()}\r\n\r\n`,
      'GET http://inference.local/v1/models HTTP/1.1\r\nHost: inference.local\r\n\r\n',
    ]);
    expect([...text.matchAll(/HTTP\/1.1 (\d{3})/g)].map((m) => m[1])).toEqual(['200', '407']);
  });

  it('a kept-alive connection that switches to another secret after a good request is refused', async () => {
    const wrong = `Basic ${Buffer.from(`sandbox:${'0'.repeat(auth.revealNonce().length)}`).toString('base64')}`;
    const { text } = await rawExchange('127.0.0.1', port, [
      `GET http://inference.local/v1/models HTTP/1.1\r\nHost: inference.local\r\nProxy-Authorization: ${basic()}\r\n\r\n`,
      `GET http://inference.local/v1/models HTTP/1.1\r\nHost: inference.local\r\nProxy-Authorization: ${basic()}\r\n\r\n`,
      `GET http://inference.local/v1/models HTTP/1.1\r\nHost: inference.local\r\nProxy-Authorization: ${wrong}\r\n\r\n`,
    ]);
    expect([...text.matchAll(/HTTP\/1.1 (\d{3})/g)].map((m) => m[1])).toEqual(['200', '200', '407']);
  });

  it('a CONNECT after a good request on the same connection is still checked', async () => {
    const { text } = await rawExchange('127.0.0.1', port, [
      `GET http://inference.local/v1/models HTTP/1.1\r\nHost: inference.local\r\nProxy-Authorization: ${basic()}\r\n\r\n`,
      `CONNECT 127.0.0.2:443 HTTP/1.1\r\nHost: 127.0.0.2:443\r\nProxy-Authorization: ${basic()}\r\n\r\n`,
    ]);
    expect([...text.matchAll(/HTTP\/1.1 (\d{3})/g)].map((m) => m[1])).toEqual(['200', '403']);
  });

  it('inside a TLS-terminated inference.local connection only inference.local is served', async () => {
    const tls = await import('node:tls');
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(`CONNECT inference.local:443 HTTP/1.1\r\nHost: inference.local:443\r\nProxy-Authorization: ${basic()}\r\n\r\n`);
    await once(socket, 'data');
    const { readFile } = await import('node:fs/promises');
    const secure = tls.connect({ socket, servername: 'inference.local', ca: await readFile(caFile, 'utf8'), ALPNProtocols: ['http/1.1'] });
    await once(secure, 'secureConnect');
    expect(secure.alpnProtocol).toBe('http/1.1');
    let text = '';
    secure.on('data', (d) => {
      text += d.toString();
    });
    secure.write('GET /v1/models HTTP/1.1\r\nHost: inference.local\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: api.anthropic.com\r\n\r\n');
    await Promise.race([once(secure, 'close'), new Promise((r) => setTimeout(r, 3000))]);
    secure.destroy();
    expect([...text.matchAll(/HTTP\/1.1 (\d{3})/g)].map((m) => m[1])).toEqual(['200', '403']);
    expect(text).toContain('serves inference.local only');
  });

  it('routes Node fetch (which ignores proxy variables) through the proxy with the preload', async () => {
    const script = [
      "const a = await fetch('https://inference.local/v1/models').then(async (r) => [r.status, await r.json()]);",
      "const b = await fetch('http://inference.local/v1/models?x=1', { method: 'POST', body: 'abc' }).then(async (r) => [r.status, await r.json()]);",
      'console.log(JSON.stringify([a, b]));',
    ].join('\n');
    const env = { PATH: process.env.PATH ?? '', HTTPS_PROXY: proxyUrl, HTTP_PROXY: proxyUrl, NO_PROXY: '127.0.0.1,localhost,::1', NODE_EXTRA_CA_CERTS: caFile };
    const without = await run(process.execPath, ['--input-type=module', '-e', script], { env }).catch((e: Error) => e);
    expect(without).toBeInstanceOf(Error);
    const { stdout } = await run(process.execPath, [`--import=${PRELOAD}`, '--input-type=module', '-e', script], { env });
    const [a, b] = JSON.parse(stdout) as [[number, { scheme: string }], [number, { scheme: string; path: string; bytes: number }]];
    expect(a).toEqual([200, expect.objectContaining({ scheme: 'https' })]);
    expect(b[0]).toBe(200);
    expect(b[1]).toMatchObject({ path: '/v1/models?x=1', bytes: 3 });
  });

  it('accepts relay connections on the Unix socket only after the nonce preamble', async () => {
    const sockDir = join(dir, 'sock');
    const { proxySocket, httpSocket } = await proxy.listenUnix(sockDir);
    const ask = async (path: string, preamble: string, request: string) => {
      const s = net.connect(path);
      await once(s, 'connect');
      let text = '';
      s.on('data', (d) => {
        text += d.toString();
      });
      s.on('error', () => undefined);
      s.write(preamble + request);
      await Promise.race([once(s, 'close'), new Promise((r) => setTimeout(r, 1500))]);
      s.destroy();
      return text;
    };
    const good = `${RELAY_PREAMBLE} ${auth.revealNonce()}\n`;
    expect(await ask(proxySocket, good, 'GET http://inference.local/v1/models HTTP/1.1\r\nHost: inference.local\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1.1 200/);
    expect(await ask(httpSocket, good, 'GET /v1/models HTTP/1.1\r\nHost: inference.local\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1.1 200/);
    expect(await ask(httpSocket, good, 'GET /v1/models HTTP/1.1\r\nHost: 127.0.0.2\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1.1 403/);
    expect(await ask(proxySocket, `${RELAY_PREAMBLE} ${'f'.repeat(32)}\n`, 'GET http://inference.local/v1/models HTTP/1.1\r\nHost: inference.local\r\n\r\n')).toBe('');
  });

  it.each([
    ['Content-Length with Transfer-Encoding', 'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET http://127.0.0.2/ HTTP/1.1\r\nHost: 127.0.0.2\r\n\r\n'],
    ['two different Content-Length values', 'Content-Length: 3\r\nContent-Length: 40\r\n\r\nabc'],
  ])('refuses request smuggling (%s): 400, connection closed, nothing handled', async (_name, rest) => {
    handled.length = 0;
    const { text, closed } = await rawExchange('127.0.0.1', port, [
      `POST http://inference.local/v1/messages HTTP/1.1\r\nHost: inference.local\r\nProxy-Authorization: ${basic()}\r\n${rest}`,
    ]);
    expect([...text.matchAll(/HTTP\/1.1 (\d{3})/g)].map((m) => m[1])).toEqual(['400']);
    expect(closed).toBe(true);
    expect(handled).toEqual([]);
  });
});
});
