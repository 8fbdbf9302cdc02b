import { once } from 'node:events';
import { type IncomingMessage, request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Forwarder, createForwarder } from './forwarder.js';
import { oauthRoute } from './testing-fixtures/routes.js';
import { type TestServer, startRouter, startUpstream, withTimeout } from './testing-fixtures/servers.js';

/** An in-process side channel: the client reports each event it received; the upstream waits for it. */
class AckChannel {
  private readonly acked = new Set<number>();
  private readonly waiters = new Map<number, () => void>();
  report(n: number): void {
    this.acked.add(n);
    this.waiters.get(n)?.();
    this.waiters.delete(n);
  }
  /** Resolves true once event n was acknowledged, false after `ms`. */
  waitFor(n: number, ms: number): Promise<boolean> {
    if (this.acked.has(n)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(n);
        resolve(false);
      }, ms);
      this.waiters.set(n, () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}

const EVENTS = 5;
let acks = new AckChannel();
const upstreamLog: string[] = [];
let onUpstreamClosed: (() => void) | undefined;
let onUpstreamReceived: (() => void) | undefined;
const BIG_TOTAL = 64 * 1024 * 1024;
let bigSent = 0;
let bigWaitingDrain = false;

let upstream: TestServer;
let forwarder: Forwarder;
let router: Awaited<ReturnType<typeof startRouter>>;
const rejected: string[] = [];

// Every behaviour is proven for both upstream transports (ForwarderSettings.transport).
const TRANSPORTS = ['undici', 'h1'] as const;

describe.each(TRANSPORTS)('transport %s', (transport) => {
  beforeAll(async () => {
    upstream = await startUpstream(async (req, res) => {
      const mode = new URL(req.url ?? '/', 'http://x').searchParams.get('mode');
      res.on('close', () => {
        if (!res.writableFinished) onUpstreamClosed?.();
      });
      if (mode === 'causal') {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        for (let n = 0; n < EVENTS; n++) {
          res.write(`event: ping\ndata: {"n":${n}}\n\n`);
          if (!(await acks.waitFor(n, 5_000))) {
            upstreamLog.push(`no ack for event ${n}`);
            res.end('event: failure\ndata: {}\n\n');
            return;
          }
        }
        res.end('event: message_stop\ndata: {"type":"message_stop"}\n\n');
        return;
      }
      if (mode === 'hold-stream') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('event: ping\ndata: {}\n\n');
        return; // keep open until the client goes away
      }
      if (mode === 'hold-headers') {
        onUpstreamReceived?.();
        return; // never answer
      }
      if (mode === 'die-mid-stream') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('event: message_start\ndata: {"type":"message_start"}\n\n', () => {
          setImmediate(() => res.socket?.destroy());
        });
        return;
      }
      if (mode === 'big') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(BIG_TOTAL) });
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        bigSent = 0;
        while (bigSent < BIG_TOTAL) {
          bigSent += chunk.length;
          if (!res.write(chunk)) {
            bigWaitingDrain = true;
            await once(res, 'drain');
            bigWaitingDrain = false;
          }
        }
        res.end();
      }
    });
    forwarder = createForwarder({
      transport,
      onCredentialRejected: (r) => {
        rejected.push(r.name);
        return undefined;
      },
    });
    const route = oauthRoute(`${upstream.url}/v1`);
    router = await startRouter(forwarder, () => route);
  });

  afterAll(async () => {
    await router.close();
    await forwarder.close();
    await upstream.close();
  });

  /** Opens a streaming request through the router and hands back the live response. */
  function openStream(path: string): Promise<{ res: IncomingMessage; destroy(): void }> {
    return withTimeout(
      new Promise((resolve, reject) => {
        const req = httpRequest(
          new URL(path, router.url),
          { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream' }, agent: false },
          (res) => resolve({ res, destroy: () => req.destroy() }),
        );
        req.on('error', reject);
        req.end('{"stream":true}');
      }),
      10_000,
      'response headers',
    );
  }

  describe('SSE streaming', () => {
    it('delivers event n to the client before the upstream sends event n+1 (causal, no buffering)', async () => {
      acks = new AckChannel();
      const { res } = await openStream('/v1/messages?mode=causal');
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('text/event-stream');
      const received: number[] = [];
      const names: string[] = [];
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (text: string) => {
        buffer += text;
        for (let idx = buffer.indexOf('\n\n'); idx !== -1; idx = buffer.indexOf('\n\n')) {
          const event = buffer.slice(0, idx);
          buffer = buffer.slice(idx + 2);
          names.push(/^event: (\w+)/.exec(event)?.[1] ?? '?');
          const m = /data: \{"n":(\d+)\}/.exec(event);
          if (m) {
            const n = Number(m[1]);
            received.push(n);
            acks.report(n); // the side channel: only now may the upstream send n+1
          }
        }
      });
      await withTimeout(once(res, 'end'), 30_000, 'end of stream');
      expect(upstreamLog).toEqual([]);
      expect(received).toEqual([0, 1, 2, 3, 4]);
      expect(names).toEqual(['ping', 'ping', 'ping', 'ping', 'ping', 'message_stop']);
    });

    it('respects backpressure: a client that stops reading stalls the upstream instead of filling memory', async () => {
      const { res } = await openStream('/v1/messages?mode=big');
      res.pause();
      // Wait until the upstream is blocked on drain and its byte count stops moving.
      let last = -1;
      let stable = 0;
      for (let i = 0; i < 100 && stable < 3; i++) {
        await new Promise((r) => setTimeout(r, 100));
        if (bigWaitingDrain && bigSent === last) stable++;
        else stable = 0;
        last = bigSent;
      }
      expect(stable).toBe(3);
      expect(bigSent).toBeLessThan(BIG_TOTAL);
      let received = 0;
      res.on('data', (c: Buffer) => {
        received += c.length;
      });
      res.resume();
      await withTimeout(once(res, 'end'), 30_000, 'end of big body');
      expect(received).toBe(BIG_TOTAL);
    });

    it('a client disconnect mid-stream aborts the upstream request', async () => {
      router.results.length = 0;
      const closed = new Promise<void>((resolve) => {
        onUpstreamClosed = resolve;
      });
      const { res, destroy } = await openStream('/v1/messages?mode=hold-stream');
      await withTimeout(once(res, 'data'), 5_000, 'first event');
      destroy();
      await withTimeout(closed, 5_000, 'upstream to see the abort');
      const result = await router.waitForResult((r) => r.error?.code === 'client_disconnected');
      expect(result.status).toBe(200);
    });

    it('a client disconnect before the upstream answered aborts the upstream request', async () => {
      router.results.length = 0;
      const received = new Promise<void>((resolve) => {
        onUpstreamReceived = resolve;
      });
      const closed = new Promise<void>((resolve) => {
        onUpstreamClosed = resolve;
      });
      const req = httpRequest(new URL('/v1/messages?mode=hold-headers', router.url), { method: 'POST', agent: false });
      req.on('error', () => {});
      req.end('{}');
      await withTimeout(received, 5_000, 'upstream to receive the request');
      req.destroy();
      await withTimeout(closed, 5_000, 'upstream to see the abort');
      const result = await router.waitForResult((r) => r.status === 0);
      expect(result.error?.code).toBe('client_disconnected');
    });

    it('an upstream failing mid-stream ends the stream with an Anthropic error event and is never retried', async () => {
      const before = upstream.requests.length;
      const { res } = await openStream('/v1/messages?mode=die-mid-stream');
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (t: string) => {
        text += t;
      });
      await withTimeout(once(res, 'end'), 10_000, 'end of stream');
      expect(text.startsWith('event: message_start\n')).toBe(true);
      const frame = /event: error\ndata: (.*)\n\n$/.exec(text);
      expect(frame).not.toBeNull();
      expect(JSON.parse(frame![1]!)).toEqual({ type: 'error', error: { type: 'api_error', message: expect.stringContaining('upstream_failed') } });
      expect(upstream.requests.length - before).toBe(1);
      expect(rejected).toEqual([]);
    });
  });
});
