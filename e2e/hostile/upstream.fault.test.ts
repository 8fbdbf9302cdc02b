// Upstream faults seen through a real supervisor (real gateway, route first-byte timeout 2 s): the
// upstream refuses connections, hangs before headers, resets mid-stream, sends malformed SSE, answers
// byte by byte, sends a mid-stream error event or an error status. Every request ends in bounded time
// with a clean answer (an error in Anthropic's shape, or the upstream's bytes relayed unmodified), the
// supervisor keeps serving, and repeated faults leak no sockets (open handles counted before/after).
import { once } from 'node:events';
import net, { type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSockets, type ProxyAnswer, viaProxy } from './proxy-client.js';
import { type HostileSystem, messagesBody, startSystem } from './system.js';

type FrontMode = 'pass' | 'refuse' | 'hang' | 'reset' | 'malformed-sse' | 'headers-then-close';

/** A TCP front of the fake upstream whose behaviour the test switches. */
interface Front {
  mode: FrontMode;
  readonly port: number;
  /** Connections currently open on the front (both legs counted once). */
  open(): number;
  setMode(mode: FrontMode): Promise<void>;
  close(): Promise<void>;
}

const MALFORMED_SSE = [
  'event: message_start\ndata: {"type":"message_start","message":{"id":"m1"', // cut JSON
  '\n\nevent: \u0000weird\ndata: not json at all\n\n',
  'data: {"type":"content_block_delta","delta":{"type":"text_delta","text":"\u00ff\u00fe"}}\r\r\n',
  ':comment only\n\n',
  'event: message_stop\ndata: {"type":"message_stop"}\n\n',
].join('');

async function startFront(target: { host: string; port: number }): Promise<Front> {
  const sockets = new Set<Socket>();
  let server: net.Server;
  let port = 0;
  const front: Front = {
    mode: 'pass',
    get port() {
      return port;
    },
    open: () => sockets.size,
    async setMode(mode) {
      // Existing (pooled keep-alive) connections would bypass the new mode: close them.
      for (const s of sockets) s.destroy();
      if (mode === 'refuse' && front.mode !== 'refuse') {
        await new Promise<void>((r) => server.close(() => r()));
      } else if (mode !== 'refuse' && front.mode === 'refuse') {
        await listen(port);
      }
      front.mode = mode;
    },
    async close() {
      for (const s of sockets) s.destroy();
      if (server.listening) await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const onConnection = (client: Socket) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    switch (front.mode) {
      case 'hang':
        client.resume();
        return;
      case 'reset':
        client.once('data', () => client.resetAndDestroy());
        return;
      case 'malformed-sse':
        client.once('data', () => {
          client.end(`HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: ${Buffer.byteLength(MALFORMED_SSE, 'latin1')}\r\n\r\n${MALFORMED_SSE}`, 'latin1');
        });
        return;
      case 'headers-then-close':
        client.once('data', () => {
          client.write('HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n5\r\nevent');
          setTimeout(() => client.destroy(), 50);
        });
        return;
      default: {
        const upstream = net.connect(target);
        sockets.add(upstream);
        upstream.on('close', () => sockets.delete(upstream));
        upstream.on('error', () => client.destroy());
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
      }
    }
  };
  const listen = async (p: number) => {
    server = net.createServer(onConnection);
    server.listen(p, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  };
  await listen(0);
  return front;
}

let sys: HostileSystem;
let front: Front;
const tally = { faults: 0, requests: 0 };

beforeAll(async () => {
  sys = await startSystem({
    timeoutSeconds: 2,
    wrapUpstream: async (apiUrl) => {
      const u = new URL(apiUrl);
      front = await startFront({ host: u.hostname, port: Number(u.port) });
      return `http://127.0.0.1:${front.port}`;
    },
  });
});

afterAll(async () => {
  await sys?.close();
  await front?.close();
  console.log(`[hostile] upstream faults injected: ${tally.faults}, requests through them: ${tally.requests}`);
});

const body = messagesBody('fault');
const streamBody = messagesBody('fault stream', { stream: true });
const BOUND_MS = 15_000;

function anthropicError(a: ProxyAnswer): { type: string; message: string } {
  const json = JSON.parse(a.body.toString('utf8')) as { type: string; error: { type: string; message: string } };
  expect(json.type).toBe('error');
  expect(json.error.message).toMatch(/\w{3,}/);
  return json.error;
}

async function ask(stream = false): Promise<ProxyAnswer> {
  tally.requests++;
  const a = await viaProxy(sys.supervisor!, { body: stream ? streamBody : body, deadlineMs: BOUND_MS + 5_000 });
  expect(a.error, `the client waited past the bound (${a.ms} ms)`).not.toBe('client deadline');
  expect(a.ms).toBeLessThan(BOUND_MS);
  expect(a.body.toString('latin1')).not.toContain(sys.upstreamToken);
  return a;
}

async function healthy(): Promise<void> {
  const a = await ask();
  expect(a.status, a.body.toString()).toBe(200);
  expect(sys.supervisor?.exited()).toBe(false);
}

/** Runs `round` once, measures sockets, runs it 4 more times: no growth beyond a constant. */
async function noLeak(round: () => Promise<void>): Promise<void> {
  await round();
  await healthy();
  await new Promise((r) => setTimeout(r, 200));
  const baseline = openSockets();
  for (let i = 0; i < 4; i++) await round();
  await healthy();
  await new Promise((r) => setTimeout(r, 200));
  expect(openSockets(), 'open sockets grew with repeated faults').toBeLessThanOrEqual(baseline + 2);
  expect(front.open(), 'connections left open at the upstream').toBeLessThanOrEqual(8);
}

describe('upstream faults through the supervisor: bounded, clean, no leaked sockets', () => {
  it('works before any fault', async () => {
    await healthy();
  });

  it('upstream refuses connections → 502-class Anthropic error at once', async () => {
    await noLeak(async () => {
      await front.setMode('refuse');
      tally.faults++;
      try {
        const a = await ask();
        expect([502, 503, 504]).toContain(a.status);
        anthropicError(a);
        expect(a.headers['x-openshell-error']).toMatch(/\w+/);
      } finally {
        await front.setMode('pass');
      }
    });
  });

  it('upstream hangs before headers → 504 after the route timeout, upstream connection closed', async () => {
    await noLeak(async () => {
      await front.setMode('hang');
      tally.faults++;
      try {
        const a = await ask();
        expect(a.status).toBe(504);
        expect(anthropicError(a).message).toMatch(/time|2 s|second/i);
      } finally {
        await front.setMode('pass');
      }
    });
    // The hung upstream connections were closed by the boundary.
    expect(front.open()).toBeLessThanOrEqual(8);
  }, 60_000);

  it('the fake hangs (accepts, reads, never answers) → 504, bounded', async () => {
    sys.api.force({ kind: 'hang' });
    tally.faults++;
    const a = await ask();
    expect(a.status).toBe(504);
    anthropicError(a);
    await healthy();
  });

  it('upstream resets the connection before any header → clean 502-class error', async () => {
    await noLeak(async () => {
      await front.setMode('reset');
      tally.faults++;
      try {
        const a = await ask();
        expect([502, 503]).toContain(a.status);
        anthropicError(a);
      } finally {
        await front.setMode('pass');
      }
    });
  });

  /** A cut SSE stream ends with the boundary's own `event: error` naming the failure, never a fake message_stop. */
  function expectStreamErrorEvent(a: ProxyAnswer): void {
    const text = a.body.toString();
    expect(text).not.toContain('message_stop');
    const m = /event: error\ndata: (.*)\n\n$/.exec(text);
    expect(m, `no terminal error event in: ${text.slice(-300)}`).not.toBeNull();
    const event = JSON.parse(m?.[1] ?? '{}') as { type: string; error: { type: string; message: string } };
    expect(event.type).toBe('error');
    expect(event.error.message).toMatch(/upstream.*(failed|closed|reset)|before the response was complete/i);
  }

  it('reset mid-stream (SSE) → the stream ends with an error event naming the failure, never a hang or a fake completion', async () => {
    await noLeak(async () => {
      sys.api.force({ kind: 'reset-mid-stream', afterEvents: 3 });
      tally.faults++;
      const a = await ask(true);
      expect(a.status).toBe(200);
      expect(a.body.toString()).toContain('message_start');
      expectStreamErrorEvent(a);
    });
  });

  it('reset mid-body (JSON) → truncated answer is not presented as complete', async () => {
    sys.api.force({ kind: 'reset-mid-stream' });
    tally.faults++;
    const a = await ask(false);
    expect(a.complete).toBe(false);
    await healthy();
  });

  it('headers then the connection closes inside a chunk → the stream ends with an error event', async () => {
    await front.setMode('headers-then-close');
    tally.faults++;
    try {
      const a = await ask(true);
      expect(a.status).toBe(200);
      expectStreamErrorEvent(a);
    } finally {
      await front.setMode('pass');
    }
    await healthy();
  });

  it('malformed SSE is relayed byte for byte (never parsed, never re-serialized)', async () => {
    await noLeak(async () => {
      await front.setMode('malformed-sse');
      tally.faults++;
      try {
        const a = await ask(true);
        expect(a.status).toBe(200);
        expect(a.complete).toBe(true);
        expect(a.body.equals(Buffer.from(MALFORMED_SSE, 'latin1'))).toBe(true);
      } finally {
        await front.setMode('pass');
      }
    });
  });

  it('byte-by-byte slow answers (SSE and JSON) arrive complete and identical to a normal answer', async () => {
    sys.api.configure({ stream: { deltas: 3, ping: false } });
    const normal = await ask(true);
    sys.api.force({ kind: 'slow', chunkBytes: 1, delayMs: 1 });
    tally.faults++;
    const slow = await ask(true);
    expect(slow.status).toBe(200);
    expect(slow.complete).toBe(true);
    // Same events (ids differ per request): compare the event names and text deltas.
    const shape = (b: Buffer) => b.toString().split('\n').filter((l) => l.startsWith('event:') || l.includes('text_delta')).map((l) => l.replace(/"id":"[^"]+"/g, ''));
    expect(shape(slow.body)).toEqual(shape(normal.body));
    sys.api.force({ kind: 'slow', chunkBytes: 3, delayMs: 1 });
    tally.faults++;
    const json = await ask(false);
    expect(json.status).toBe(200);
    expect(JSON.parse(json.body.toString()).content[0].text).toBe('You said: fault');
  });

  it('a mid-stream error event is relayed as the upstream sent it', async () => {
    sys.api.force({ kind: 'stream-error', afterEvents: 2 });
    tally.faults++;
    const a = await ask(true);
    expect(a.status).toBe(200);
    expect(a.body.toString()).toMatch(/event: error[\s\S]*overloaded_error/);
    await healthy();
  });

  it('upstream 500 / 529 / 429 are relayed unmodified, not retried as credential problems', async () => {
    for (const status of [500, 529, 429]) {
      const before = sys.api.requestCount;
      sys.api.force({ kind: 'error', status });
      tally.faults++;
      const a = await ask();
      expect(a.status).toBe(status);
      expect(sys.api.requestCount - before).toBe(1);
    }
    await healthy();
  });

  it('50 concurrent requests while the upstream resets half of them: every one ends, the supervisor serves on', async () => {
    sys.api.force({ kind: 'destroy' }, { times: 25 });
    tally.faults += 25;
    const answers = await Promise.all(Array.from({ length: 50 }, () => ask()));
    const ok = answers.filter((a) => a.status === 200).length;
    const failed = answers.filter((a) => a.status !== 200);
    expect(ok + failed.length).toBe(50);
    for (const a of failed) {
      expect([502, 503]).toContain(a.status);
      anthropicError(a);
    }
    expect(ok).toBeGreaterThanOrEqual(25);
    await healthy();
  });
});
