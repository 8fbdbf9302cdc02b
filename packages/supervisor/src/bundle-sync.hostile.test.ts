// A hostile or broken gateway feeding the supervisor's bundle sync (DESIGN §3.5, §9 invariant 5):
// malformed JSON, unknown schema versions, auth styles and merge rules, control characters, wrong
// types, huge answers, redirects, error pages. At start: a clear `gateway_protocol` error naming what is
// wrong. During the long-poll: the last good routes stay in use, a warning names the problem, nothing
// is followed elsewhere, and a later good bundle is adopted.
import { once } from 'node:events';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { type RouteBundle, Secret } from '@openshell/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBundleSync } from './bundle-sync.js';
import { createLogger } from './logger.js';
import { anthropicOauthRoute } from './testing-fixtures/fake-gateway.js';

const TOKEN = 'oss_hostile_bundle_token_0123456789';

function goodBundle(revision: string, token = 'sk-ant-oat01-good'): RouteBundle {
  return { schemaVersion: 1, revision, routes: [anthropicOauthRoute({ baseUrl: 'http://127.0.0.1:9/v1', token })], egress: [] };
}

type Answer = { status?: number; headers?: Record<string, string>; body: string | Buffer };

/** A gateway whose bundle answers come from a queue (then the last good bundle, held briefly). */
interface HostileGateway {
  readonly url: string;
  enqueue(...answers: Answer[]): void;
  bundleRequests(): number;
  close(): Promise<void>;
}

let sentinelConnections = 0;
let sentinel: net.Server;
let sentinelPort: number;

async function startHostileGateway(first: Answer): Promise<HostileGateway> {
  const queue: Answer[] = [first];
  let last: Answer = first;
  let bundleRequests = 0;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/v1/sandbox/environment') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sandbox: 's', revision: 'e1', environment: {} }));
      return;
    }
    if (url.pathname === '/v1/sandbox/bundle') {
      bundleRequests++;
      const next = queue.shift();
      const send = (a: Answer) => {
        if (res.destroyed) return;
        res.writeHead(a.status ?? 200, { 'content-type': 'application/json', ...a.headers });
        res.end(a.body);
      };
      if (next !== undefined) {
        last = next;
        send(next);
      } else {
        // Nothing queued: behave like a quiet long-poll (short hold), then repeat the last answer.
        setTimeout(() => send(last), 100);
      }
      return;
    }
    res.writeHead(404).end('{}');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    enqueue: (...a) => queue.push(...a),
    bundleRequests: () => bundleRequests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const json = (v: unknown): Answer => ({ body: JSON.stringify(v) });
const route = () => anthropicOauthRoute({ baseUrl: 'http://127.0.0.1:9/v1', token: 'sk-ant-oat01-x' });

/** Hostile bundle answers and what the refusal must name. */
const HOSTILE: ReadonlyArray<{ name: string; answer: () => Answer; says: RegExp }> = [
  { name: 'not JSON', answer: () => ({ body: '<html>Just a moment...</html>' }), says: /not JSON/ },
  { name: 'truncated JSON', answer: () => ({ body: JSON.stringify(goodBundle('t')).slice(0, 50) }), says: /not JSON/ },
  { name: 'a JSON array', answer: () => json([goodBundle('a')]), says: /bundle/ },
  { name: 'null', answer: () => json(null), says: /bundle/ },
  { name: 'unknown schemaVersion', answer: () => json({ ...goodBundle('v'), schemaVersion: 99 }), says: /schemaVersion/ },
  { name: 'unknown auth style', answer: () => json({ ...goodBundle('s'), routes: [{ ...route(), auth: { style: 'magic', headerName: 'authorization', value: 'x' } }] }), says: /auth|style/ },
  {
    name: 'unknown header merge rule',
    answer: () => json({ ...goodBundle('m'), routes: [{ ...route(), headerPolicy: { ...route().headerPolicy, required: [{ name: 'anthropic-beta', value: 'oauth-2025-04-20', merge: 'drop' }] } }] }),
    says: /merge/,
  },
  { name: 'routes is an object', answer: () => json({ ...goodBundle('o'), routes: { 'inference.local': route() } }), says: /routes/ },
  { name: 'revision is a number', answer: () => json({ ...goodBundle('n'), revision: 7 }), says: /revision/ },
  { name: 'egress port out of range', answer: () => json({ ...goodBundle('e'), egress: [{ host: 'api.anthropic.com', port: 70000 }] }), says: /egress|port/ },
  { name: 'a base URL that is not a URL', answer: () => json({ ...goodBundle('u'), routes: [{ ...route(), baseUrl: 'javascript:alert(1)' }] }), says: /baseUrl|URL/ },
];

beforeAll(async () => {
  sentinel = net.createServer((s) => {
    sentinelConnections++;
    s.destroy();
  });
  sentinel.listen(0, '127.0.0.2');
  await once(sentinel, 'listening');
  sentinelPort = (sentinel.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((r) => sentinel.close(() => r()));
});

function makeSync(url: string, lines: string[]) {
  return createBundleSync({
    gatewayUrl: url,
    token: new Secret(TOKEN),
    log: createLogger({ stream: { write: (l: string) => lines.push(l) }, level: 'debug' }),
    waitSeconds: 1,
    startTimeoutMs: 1_500,
    retry: { initialMs: 20, maxMs: 50 },
  });
}

describe('a hostile first bundle: start fails with a clear error naming the problem', () => {
  for (const h of HOSTILE) {
    it(h.name, async () => {
      const gw = await startHostileGateway(h.answer());
      const lines: string[] = [];
      const sync = makeSync(gw.url, lines);
      try {
        const err = await sync.start().then(
          () => undefined,
          (e: { code?: string; message: string }) => e,
        );
        expect(err, 'a hostile bundle was accepted').toBeDefined();
        expect(err?.code).toBe('gateway_protocol');
        expect(err?.message).toMatch(h.says);
        expect(`${err?.message} ${lines.join('')}`).not.toContain(TOKEN);
      } finally {
        await sync.close();
        await gw.close();
      }
    });
  }
});

describe('hostile bundles during the long-poll: the last good routes stay, a warning names the problem', () => {
  it('every hostile answer in turn, then a redirect, an error page and a huge answer; then a good bundle is adopted', async () => {
    const gw = await startHostileGateway(json(goodBundle('good-1')));
    const lines: string[] = [];
    const sync = makeSync(gw.url, lines);
    try {
      await sync.start();
      sync.watch();
      for (const h of HOSTILE) gw.enqueue(h.answer());
      gw.enqueue(
        { status: 302, headers: { location: `http://127.0.0.2:${sentinelPort}/v1/sandbox/bundle` }, body: '' },
        { status: 500, body: '<html>oops</html>' },
        { body: JSON.stringify({ ...goodBundle('huge'), padding: 'x'.repeat(20 * 1024 * 1024) }) },
      );
      const total = HOSTILE.length + 3;
      for (let i = 0; i < 400 && gw.bundleRequests() < total + 2; i++) {
        // Only a valid bundle may replace the good one (the 20 MB answer is valid apart from its size).
        expect(['good-1', 'huge'], 'a hostile bundle replaced the good one').toContain(sync.snapshot().revision);
        await new Promise((r) => setTimeout(r, 25));
      }
      expect(gw.bundleRequests()).toBeGreaterThanOrEqual(total + 1);
      expect(sentinelConnections, 'the redirect was followed').toBe(0);
      const warnings = lines.filter((l) => l.includes('keeping the current routes'));
      expect(warnings.length).toBeGreaterThan(0);
      expect(lines.join('')).not.toContain(TOKEN);
      expect((await sync.usableRoute('inference.local')) as { name?: string }).toMatchObject({ name: 'inference.local' });
      // A good bundle after all that is adopted (the huge one was valid too; either way a good one wins).
      gw.enqueue(json(goodBundle('good-2', 'sk-ant-oat01-rotated')));
      for (let i = 0; i < 200 && sync.snapshot().revision !== 'good-2'; i++) await new Promise((r) => setTimeout(r, 25));
      expect(sync.snapshot().revision).toBe('good-2');
    } finally {
      await sync.close();
      await gw.close();
    }
  }, 60_000);
});
