// Hostile sandbox clients against the boundary: every attack of attacks.ts, sent on raw sockets to
// (a) the router's forwarder behind a plain loopback server and (b) a real supervisor's proxy
// (runSupervisor against the real gateway). Each asserts what the client got and what the fake
// upstream did or did not receive, plus the shared invariants (see attacks.ts).
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import type { BundleRoute } from '@openshell/core';
import { canaryScan, type RecordedRequest } from '@openshell/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTACKS, type Attack, type AttackContext, CLIENT_CANARY, lines, post, type Target, type TargetName } from './attacks.js';
import { httpRequest, parseResponses, type RawExchange, rawExchange } from './raw-http.js';
import { type HostileSystem, messagesBody, type RouterFront, startRouterFront, startSystem } from './system.js';

let sys: HostileSystem;
let front: RouterFront;
let route: BundleRoute;
const tally = { attacks: 0, refused: 0, served: 0 };

beforeAll(async () => {
  sys = await startSystem();
  route = await sys.route();
  front = await startRouterFront(() => route);
});

afterAll(async () => {
  await front?.close();
  await sys?.close();
  console.log(`[hostile] boundary attacks tried: ${tally.attacks} (served safely ${tally.served}, refused ${tally.refused})`);
});

function targetOf(name: TargetName): Target {
  if (name === 'router') {
    return {
      name,
      port: front.port,
      proxyLines: [],
      head: (method, path) => [`${method} ${path} HTTP/1.1`, `Host: 127.0.0.1:${front.port}`],
    };
  }
  const s = sys.supervisor;
  if (s === undefined) throw new Error('no supervisor');
  const proxyLines = [`Proxy-Authorization: ${s.proxyAuth}`];
  return {
    name,
    port: s.proxyPort,
    proxyLines,
    head: (method, path) => [`${method} http://inference.local${path} HTTP/1.1`, 'Host: inference.local', ...proxyLines],
  };
}

function contextFor(target: Target): AttackContext {
  const s = sys.supervisor;
  if (s === undefined) throw new Error('no supervisor');
  return {
    target,
    sentinelPort: sys.sentinel.port,
    localSentinelPort: sys.localSentinel.port,
    gatewayPort: sys.gatewayPort,
    proxyPort: s.proxyPort,
    nonce: s.nonce,
  };
}

/** Invariants every upstream request must satisfy, whatever the client sent. */
function checkUpstreamRequest(r: RecordedRequest, nonce: string): void {
  expect(lines(r, 'authorization')).toEqual([`Bearer ${sys.upstreamToken}`]);
  expect(lines(r, 'x-api-key')).toEqual([]);
  expect(lines(r, 'proxy-authorization')).toEqual([]);
  const beta = lines(r, 'anthropic-beta');
  expect(beta).toHaveLength(1);
  const tokens = (beta[0] ?? '').split(',').map((t) => t.trim().toLowerCase());
  // Exactly once, in its canonical spelling (the upstream compares it case-sensitively).
  expect(tokens.filter((t) => t === 'oauth-2025-04-20')).toHaveLength(1);
  expect((beta[0] ?? '').split(',').map((t) => t.trim())).toContain('oauth-2025-04-20');
  const names = r.rawHeaders.map(([n]) => n.toLowerCase());
  expect(new Set(names).size, `duplicate header lines upstream: ${names.join(',')}`).toBe(names.length);
  const headerText = r.rawHeaders.map(([n, v]) => `${n}: ${v}`).join('\n');
  expect(headerText).not.toContain(CLIENT_CANARY);
  expect(headerText).not.toContain(nonce);
  expect(r.url).not.toContain(nonce);
}

/** A client answer must be a clear error: a JSON body with a message (the supervisor), or at least a status line (bare router front). */
function clearMessage(ex: RawExchange, target: TargetName): void {
  const res = ex.responses.find((r) => r.status >= 400);
  expect(res, `no error response; got ${ex.data.subarray(0, 200).toString('latin1')}`).toBeDefined();
  if (target === 'supervisor' && res !== undefined) {
    const text = res.body.toString('utf8');
    const json = JSON.parse(text) as { error?: { message?: string } };
    expect(json.error?.message, text).toMatch(/\w{3,}/);
  }
}

async function healthy(target: Target): Promise<void> {
  const before = sys.api.requestCount;
  const ex = await rawExchange(target.port, post(target, []), { timeoutMs: 10_000 });
  expect(ex.responses[0]?.status, `health check after the attack: ${ex.data.subarray(0, 300).toString('latin1')}`).toBe(200);
  expect(sys.api.requestCount).toBe(before + 1);
}

async function runAttack(attack: Attack, targetName: TargetName): Promise<void> {
  const target = targetOf(targetName);
  const ctx = contextFor(target);
  const before = sys.api.requestCount;
  const sentinelBefore = sys.sentinel.connections() + sys.localSentinel.connections();
  const ex = await attack.send(ctx);
  // Give a forwarded request time to be recorded (bounded).
  if (attack.expect !== 'refused') await sys.api.waitForRequests(before + (attack.upstream ?? 1), 2_000).catch(() => undefined);
  else await new Promise((r) => setTimeout(r, 50));
  const upstream = sys.api.requests.slice(before);
  tally.attacks++;

  for (const r of upstream) checkUpstreamRequest(r, ctx.nonce);
  expect(await canaryScan([{ label: 'client answer', content: ex.data }], [sys.upstreamToken])).toEqual([]);
  expect(sys.sentinel.connections() + sys.localSentinel.connections(), 'a sentinel host was reached').toBe(sentinelBefore);
  expect(ex.responses.filter((r) => r.status >= 500).map((r) => r.status), 'no 5xx').toEqual([]);
  expect(sys.supervisor?.exited()).toBe(false);

  const first = ex.responses[0];
  const served = first?.status === 200 && upstream.length >= 1;
  if (attack.expect === 'served') {
    expect(first?.status, ex.data.subarray(0, 300).toString('latin1')).toBe(200);
    expect(upstream).toHaveLength(attack.upstream ?? 1);
    tally.served++;
  } else if (attack.expect === 'refused') {
    expect(upstream, 'a refused request reached the upstream').toHaveLength(0);
    clearMessage(ex, targetName);
    const status = ex.responses.find((r) => r.status >= 400)?.status ?? 0;
    if (attack.statuses !== undefined) expect(attack.statuses).toContain(status);
    else expect(status).toBeGreaterThanOrEqual(400);
    tally.refused++;
  } else {
    if (attack.upstream !== undefined) expect(upstream.length).toBeLessThanOrEqual(attack.upstream);
    if (served) tally.served++;
    else {
      // Not served: the client still gets a clear error, or the connection is closed on it.
      const errors = attack.tunnel === true ? ex.responses.slice(1) : ex.responses;
      if (errors.length > 0) clearMessage({ ...ex, responses: errors }, targetName);
      else expect(ex.closed || ex.timedOut).toBe(true);
      tally.refused++;
    }
  }
  attack.check?.(upstream, ex, ctx);
  await healthy(target);
}

describe('hostile requests against the boundary', () => {
  it('has at least 40 distinct attacks', () => {
    const ids = ATTACKS.map((a) => a.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBeGreaterThanOrEqual(40);
  });

  for (const targetName of ['router', 'supervisor'] as const) {
    describe(`via the ${targetName}`, () => {
      for (const attack of ATTACKS.filter((a) => a.targets.includes(targetName))) {
        it(attack.id, () => runAttack(attack, targetName));
      }
    });
  }
});

describe('slow and exhausting clients', () => {
  it('40 slow-loris connections (headers trickled) do not starve a legitimate request', async () => {
    const target = targetOf('supervisor');
    const sockets: net.Socket[] = [];
    try {
      for (let i = 0; i < 40; i++) {
        const s = net.connect({ host: '127.0.0.1', port: target.port });
        s.on('error', () => undefined);
        s.write(`POST http://inference.local/v1/messages HTTP/1.1\r\nHost: inference.local\r\nX-Slow-${i}: `);
        sockets.push(s);
      }
      // Keep trickling a byte per connection while a legitimate request runs.
      const trickle = setInterval(() => {
        for (const s of sockets) if (!s.destroyed) s.write('a');
      }, 50);
      try {
        await healthy(target);
        await healthy(target);
      } finally {
        clearInterval(trickle);
      }
      expect(sys.supervisor?.exited()).toBe(false);
    } finally {
      for (const s of sockets) s.destroy();
    }
  });

  it('a body that stalls after its headers does not block other requests and is never completed upstream', async () => {
    const target = targetOf('supervisor');
    const before = sys.api.requestCount;
    const s = net.connect({ host: '127.0.0.1', port: target.port });
    s.on('error', () => undefined);
    s.write(httpRequest([...target.head('POST', '/v1/messages'), 'Content-Type: application/json', 'Content-Length: 5000'], '{"model":'));
    try {
      await healthy(target);
      // Only the health request completed upstream.
      expect(sys.api.requests.slice(before).filter((r) => r.body.toString() === '{"model":')).toHaveLength(0);
    } finally {
      s.destroy();
    }
    await new Promise((r) => setTimeout(r, 100));
    await healthy(target);
  });

  it('a client that opens and drops 200 connections mid-request leaves the proxy serving', async () => {
    const target = targetOf('supervisor');
    const req = httpRequest([...target.head('POST', '/v1/messages'), 'Content-Type: application/json', `Content-Length: ${messagesBody().length}`], messagesBody().slice(0, 10));
    await Promise.all(
      Array.from({ length: 200 }, () =>
        new Promise<void>((resolve) => {
          const s = net.connect({ host: '127.0.0.1', port: target.port }, () => {
            s.write(req);
            setTimeout(() => s.destroy(), 5);
          });
          s.on('error', () => undefined);
          s.on('close', () => resolve());
        }),
      ),
    );
    await healthy(target);
    expect(sys.supervisor?.exited()).toBe(false);
  });
});

/** CONNECT inference.local:443, TLS (SNI `servername`), then `bytes` inside; collects the answer. */
async function overTls(bytes: Buffer, servername = 'inference.local'): Promise<RawExchange> {
  const s = sys.supervisor;
  if (s === undefined) throw new Error('no supervisor');
  const raw = net.connect({ host: '127.0.0.1', port: s.proxyPort });
  raw.on('error', () => undefined);
  await once(raw, 'connect');
  raw.write(httpRequest(['CONNECT inference.local:443 HTTP/1.1', 'Host: inference.local:443', `Proxy-Authorization: ${s.proxyAuth}`]));
  // Read the CONNECT answer without consuming the stream (breaking out of async iteration would destroy it).
  const head = await new Promise<string>((resolve) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (text.includes('\r\n\r\n')) {
        raw.off('data', onData);
        raw.pause();
        resolve(text);
      }
    };
    raw.on('data', onData);
  });
  expect(head).toMatch(/^HTTP\/1\.1 200/);
  const socket = tls.connect({ socket: raw, servername, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
  socket.on('error', () => undefined);
  await once(socket, 'secureConnect');
  return new Promise((resolve) => {
    const received: Buffer[] = [];
    const finish = (closed: boolean, timedOut: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      const data = Buffer.concat(received);
      resolve({ data, responses: parseResponses(data), closed, timedOut });
    };
    const timer = setTimeout(() => finish(false, true), 5_000);
    socket.on('data', (c: Buffer) => received.push(c));
    socket.on('close', () => finish(true, false));
    socket.write(bytes);
  });
}

describe('hostile requests inside the TLS-terminated https://inference.local tunnel', () => {
  const tlsHead = (method: string, path: string, host = 'inference.local') => [`${method} ${path} HTTP/1.1`, `Host: ${host}`];
  const b = messagesBody();

  it('client credentials in every case are replaced by the route bearer', async () => {
    const before = sys.api.requestCount;
    const ex = await overTls(httpRequest([...tlsHead('POST', '/v1/messages'), `AUTHORIZATION: Bearer ${CLIENT_CANARY}`, `X-Api-Key: ${CLIENT_CANARY}`, `Content-Length: ${b.length}`, 'Connection: close'], b));
    tally.attacks++;
    tally.served++;
    expect(ex.responses[0]?.status).toBe(200);
    const up = sys.api.requests.slice(before);
    expect(up).toHaveLength(1);
    checkUpstreamRequest(up[0] as RecordedRequest, sys.supervisor?.nonce ?? '');
  });

  it('Host naming 127.0.0.2 inside the tunnel is refused; nothing reaches it', async () => {
    const before = sys.sentinel.connections();
    const ex = await overTls(httpRequest([...tlsHead('GET', '/', `127.0.0.2:${sys.sentinel.port}`), 'Connection: close']));
    tally.attacks++;
    tally.refused++;
    expect(ex.responses[0]?.status).toBe(403);
    clearMessage(ex, 'supervisor');
    expect(sys.sentinel.connections()).toBe(before);
  });

  it('SNI naming another host changes nothing: still inference.local only', async () => {
    const before = sys.api.requestCount;
    const ex = await overTls(httpRequest([...tlsHead('GET', '/v1/models', 'exfil.invalid'), 'Connection: close']), 'exfil.invalid');
    tally.attacks++;
    tally.refused++;
    expect(ex.responses[0]?.status).toBe(403);
    expect(sys.api.requestCount).toBe(before);
  });

  it('conflicting framing inside the tunnel is refused before the upstream', async () => {
    const before = sys.api.requestCount;
    const ex = await overTls(httpRequest([...tlsHead('POST', '/v1/messages'), `Content-Length: ${b.length}`, 'Transfer-Encoding: chunked', 'Connection: close'], `${b.length.toString(16)}\r\n${b}\r\n0\r\n\r\n`));
    tally.attacks++;
    tally.refused++;
    expect(ex.responses[0]?.status).toBe(400);
    expect(sys.api.requestCount).toBe(before);
  });

  it('an absolute-URI request to 127.0.0.2 inside the tunnel is refused', async () => {
    const ex = await overTls(httpRequest([`GET http://127.0.0.2:${sys.sentinel.port}/ HTTP/1.1`, 'Host: inference.local', 'Connection: close']));
    tally.attacks++;
    tally.refused++;
    expect(ex.responses[0]?.status).toBe(403);
  });
});

describe('after every attack (invariant 1)', () => {
  it('no secret in the supervisor or gateway logs: upstream credential, sandbox token, proxy nonce', async () => {
    const s = sys.supervisor;
    expect(s?.exited()).toBe(false);
    const hits = await canaryScan(
      [
        { label: 'supervisor log', content: (s?.logs ?? []).join('') },
        { label: 'gateway log', content: sys.gatewayLogs.join('') },
      ],
      [sys.upstreamToken, sys.sandboxToken, s?.nonce ?? 'unused-nonce-placeholder'],
    );
    expect(hits).toEqual([]);
    // The denials were logged (a clear trail), naming destinations but no secret.
    expect((s?.logs ?? []).join('')).toMatch(/egress denied/);
  });
});
