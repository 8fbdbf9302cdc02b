// Hostile clients of the proxy's two ways in: the loopback TCP port (per-run secret in
// Proxy-Authorization) and the relay's Unix sockets (nonce preamble, bwrap mode). Every malformed,
// wrong, repeated or slow credential is refused with 407 (or the connection closed for the relay),
// nothing reaches the inference handler or an allow-listed tunnel, and the proxy keeps serving.
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LeanRequest, LeanResponse } from './lean-relay.js';
import { createLogger } from './logger.js';
import { createProxyAuth, PROXY_USER } from './proxy-auth.js';
import { createProxyServer, type ProxyServer, RELAY_PREAMBLE } from './proxy-server.js';
import { createSandboxCa } from './sandbox-ca.js';
import { exchange } from './testing-fixtures/raw-exchange.js';

// Every case runs twice: with node:http alone, and with the lean front in front of it (the supervisor's
// configuration), which must hand every odd request to node:http and so give the same answers.
describe.each(['node:http', 'lean'] as const)('%s front', (front) => {

let dir: string;
let proxy: ProxyServer;
let port: number;
let sockets: { proxySocket: string; httpSocket: string };
let tunnelTarget: net.Server;
let tunnelPort: number;
let tunnelConnections = 0;
const handled: string[] = [];
const logLines: string[] = [];
const NONCE = 'f'.repeat(8) + 'hostile-nonce-0123456789abcdef';
const auth = createProxyAuth(NONCE);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'osh-proxy-hostile-'));
  tunnelTarget = net.createServer((s) => {
    tunnelConnections++;
    s.pipe(s);
  });
  tunnelTarget.listen(0, '127.0.0.1');
  await once(tunnelTarget, 'listening');
  tunnelPort = (tunnelTarget.address() as AddressInfo).port;
  proxy = await createProxyServer({
    auth,
    ca: await createSandboxCa(),
    log: createLogger({ stream: { write: (s: string) => logLines.push(s) }, level: 'debug' }),
    egress: () => [{ host: '127.0.0.1', port: tunnelPort }],
    async handleInference(req, res, ctx) {
      handled.push(`${req.method} ${ctx.path}`);
      for await (const _ of req) {
        // drain
      }
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 }).end('{}');
    },
    ...(front === 'lean'
      ? {
          async handleInferenceLean(req: LeanRequest, res: LeanResponse, ctx: InferenceRequestContext) {
            handled.push(`${req.method} ${ctx.path}`);
            res.writeHead(200, ['content-type', 'application/json', 'content-length', '2']).end('{}');
          },
        }
      : {}),
  });
  ({ port } = await proxy.listenTcp());
  sockets = await proxy.listenUnix(join(dir, 'run'));
});

afterAll(async () => {
  await proxy?.close();
  await new Promise<void>((r) => tunnelTarget.close(() => r()));
  await rm(dir, { recursive: true, force: true });
  // The nonce is never logged.
  expect(logLines.join('')).not.toContain(NONCE);
});


const basic = (userPass: string) => `Basic ${Buffer.from(userPass, 'utf8').toString('base64')}`;

const BAD_PROXY_AUTH: ReadonlyArray<[string, string | null]> = [
  ['no Proxy-Authorization', null],
  ['empty value', ''],
  ['the wrong nonce', basic(`${PROXY_USER}:${'0'.repeat(NONCE.length)}`)],
  ['the nonce as the user name', basic(`${NONCE}:x`)],
  ['the right nonce under another user', basic(`root:${NONCE}`)],
  ['a prefix of the nonce', basic(`${PROXY_USER}:${NONCE.slice(0, -1)}`)],
  ['the nonce plus a suffix', basic(`${PROXY_USER}:${NONCE}x`)],
  ['no colon', basic(`${PROXY_USER}${NONCE}`)],
  ['Bearer with the nonce', `Bearer ${NONCE}`],
  ['the nonce in clear text after Basic', `Basic ${PROXY_USER}:${NONCE}`],
  ['base64 garbage', 'Basic ////'],
  ['a 10 KB value', `Basic ${'A'.repeat(10_000)}`],
  ['the right value with a NUL byte appended inside base64', `Basic ${Buffer.from(`${PROXY_USER}:${NONCE}\u0000`).toString('base64')}`],
];

describe('hostile Proxy-Authorization on the TCP port', () => {
  for (const [name, value] of BAD_PROXY_AUTH) {
    it(`${name}: 407 for CONNECT to an allow-listed host and for an inference request, nothing forwarded`, async () => {
      const before = { handled: handled.length, tunnels: tunnelConnections };
      const authLine = value === null ? [] : [`Proxy-Authorization: ${value}`];
      const connect = await exchange({ port }, `${['CONNECT 127.0.0.1:' + tunnelPort + ' HTTP/1.1', `Host: 127.0.0.1:${tunnelPort}`, ...authLine].join('\r\n')}\r\n\r\n`);
      expect(connect.text).toMatch(/^HTTP\/1\.1 407 /);
      expect(connect.text).toContain('proxy_auth_required');
      const plain = await exchange({ port }, `${['GET http://inference.local/v1/models HTTP/1.1', 'Host: inference.local', ...authLine, 'Connection: close'].join('\r\n')}\r\n\r\n`);
      expect(plain.text).toMatch(/^HTTP\/1\.1 (407|400) /);
      expect(handled.length).toBe(before.handled);
      expect(tunnelConnections).toBe(before.tunnels);
    });
  }

  it('the right secret still works (control), over a kept-alive connection that then drops it', async () => {
    const good = `Proxy-Authorization: ${basic(`${PROXY_USER}:${NONCE}`)}`;
    const res = await exchange({ port }, [
      `GET http://inference.local/v1/models HTTP/1.1\r\nHost: inference.local\r\n${good}\r\n\r\n`,
      'GET http://inference.local/v1/models HTTP/1.1\r\nHost: inference.local\r\nConnection: close\r\n\r\n',
    ], 3_000, 100);
    expect(res.text.match(/HTTP\/1\.1 200 /g)).toHaveLength(1);
    expect(res.text).toMatch(/HTTP\/1\.1 407 /);
  });
});

describe('hostile relay preambles on the Unix sockets (bwrap mode)', () => {
  const cases: ReadonlyArray<[string, () => Array<string | Buffer>]> = [
    ['no preamble, straight HTTP', () => ['GET /v1/models HTTP/1.1\r\nHost: inference.local\r\n\r\n']],
    ['the wrong nonce', () => [`${RELAY_PREAMBLE} ${'0'.repeat(NONCE.length)}\nGET /v1/models HTTP/1.1\r\nHost: inference.local\r\n\r\n`]],
    ['another preamble word', () => [`OPENSHELL-RELAYX ${NONCE}\nGET /v1/models HTTP/1.1\r\nHost: inference.local\r\n\r\n`]],
    ['a nonce prefix', () => [`${RELAY_PREAMBLE} ${NONCE.slice(0, 10)}\nGET /v1/models HTTP/1.1\r\nHost: inference.local\r\n\r\n`]],
    ['a 64 KB line without a newline', () => ['A'.repeat(64 * 1024)]],
    ['the nonce split over many tiny writes but wrong at the end', () => [...`${RELAY_PREAMBLE} ${NONCE.slice(0, -1)}Z\n`].map((c) => Buffer.from(c))],
  ];
  for (const socketName of ['proxySocket', 'httpSocket'] as const) {
    for (const [name, bytes] of cases) {
      it(`${socketName}: ${name} → closed without an answer, nothing forwarded`, async () => {
        const before = { handled: handled.length, tunnels: tunnelConnections };
        const res = await exchange({ path: sockets[socketName] }, bytes(), 6_000);
        expect(res.closed).toBe(true);
        expect(res.text).toBe('');
        expect(handled.length).toBe(before.handled);
        expect(tunnelConnections).toBe(before.tunnels);
      });
    }
  }

  it('a relay connection that never sends its preamble is closed by the proxy (bounded)', async () => {
    const res = await exchange({ path: sockets.httpSocket }, [], 8_000);
    expect(res.closed).toBe(true);
  }, 15_000);

  it('the right preamble still works (control)', async () => {
    const res = await exchange({ path: sockets.httpSocket }, `${RELAY_PREAMBLE} ${NONCE}\nGET /v1/models HTTP/1.1\r\nHost: inference.local\r\nConnection: close\r\n\r\n`);
    expect(res.text).toMatch(/^HTTP\/1\.1 200 /);
  });
});
});
