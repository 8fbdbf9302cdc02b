import type { BundleRoute } from '@openshell/core';
import { RouterError } from './errors.js';

/**
 * Header policy of the boundary: pure functions over Node's `rawHeaders` arrays (so every duplicate
 * and case variant is seen), no undici import. Exported as `@openshell/router/headers`.
 *
 * Precedence, applied in this order (architecture/router.md explains why):
 * 1. any client value with CR, LF or NUL → `invalid_header_value` (400), nothing is sent;
 * 2. always stripped, every case variant: authorization, x-api-key, proxy-authorization, host,
 *    content-length, expect, hop-by-hop headers, names listed in `connection`, the route's own auth
 *    header and every required header with merge rule `replace`;
 * 3. allow-list: content-type, accept, accept-encoding, user-agent, the route's passthrough names
 *    (exact or `prefix-*`), the names of its default headers and of its `list` required headers;
 * 4. several lines of one name become one line (`, `-joined; first wins for singleton fields);
 * 5. required headers: `list` merges the client's tokens with ours, `replace` sets ours;
 * 6. default headers only where the client sent none;
 * 7. auth last, replacing anything the client sent.
 */

/** Headers removed from every client request, whatever the route says (lowercase). */
export const ALWAYS_STRIPPED_REQUEST_HEADERS: readonly string[] = [
  'authorization',
  'x-api-key',
  'proxy-authorization',
  'host',
  'content-length',
  'expect',
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
];

/** Client headers every route lets through. */
export const COMMON_ALLOWED_REQUEST_HEADERS: readonly string[] = ['content-type', 'accept', 'accept-encoding', 'user-agent'];

/** Hop-by-hop response headers never relayed to the client (plus names listed in `connection`). */
export const HOP_BY_HOP_RESPONSE_HEADERS: readonly string[] = [
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
];

/** Fields that must appear once; of several client lines the first wins instead of being joined. */
const SINGLETON_FIELDS = new Set(['content-type', 'user-agent', 'anthropic-version']);
const STRIPPED = new Set(ALWAYS_STRIPPED_REQUEST_HEADERS);
const HOP_BY_HOP = new Set(HOP_BY_HOP_RESPONSE_HEADERS);
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** The subset of a route the header policy needs. */
export type HeaderPolicyRoute = Pick<BundleRoute, 'name' | 'auth' | 'headerPolicy'>;

/** A route's header policy, compiled once per route object and reused for every request. */
export interface CompiledHeaderPolicy {
  readonly routeName: string;
  /** Lowercase names removed whatever the allow-list says. */
  readonly stripped: ReadonlySet<string>;
  /** Lowercase names allowed exactly. */
  readonly allowExact: ReadonlySet<string>;
  /** Lowercase prefixes from passthrough entries ending in `*`. */
  readonly allowPrefixes: readonly string[];
  /** Required headers, `list` ones with their value pre-split into tokens. */
  readonly required: readonly { name: string; value: string; merge: 'list' | 'replace'; tokens: readonly string[] }[];
  /** Lowercase names of `list` required headers → index in `required`. */
  readonly listRequired: ReadonlyMap<string, number>;
  readonly defaults: readonly (readonly [string, string])[];
  /** `[name, value]` of the auth header, or undefined for auth style `none`. */
  readonly auth: readonly [string, string] | undefined;
}

/** Bytes of an RFC 9110 token (header names, methods), and of a field value (HTAB, SP, VCHAR, obs-text). */
const TOKEN_BYTES = new Uint8Array(256);
for (const ch of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TOKEN_BYTES[ch.charCodeAt(0)] = 1;
const FIELD_VALUE_BYTES = new Uint8Array(256);
for (let b = 0x20; b < 0x100; b++) FIELD_VALUE_BYTES[b] = b === 0x7f ? 0 : 1;
FIELD_VALUE_BYTES[0x09] = 1;

/** True when `s` is a non-empty RFC 9110 token (a valid header name); a table look-up per character, no regex. */
export function isHttpToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff || TOKEN_BYTES[c] !== 1) return false;
  }
  return true;
}

/** True when `s` has a character a field value may not carry on the wire: anything but HTAB, SP, VCHAR and obs-text. */
export function hasInvalidFieldValueChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff || FIELD_VALUE_BYTES[c] !== 1) return true;
  }
  return false;
}

/** True when a header value contains CR, LF or NUL. */
export function hasForbiddenHeaderChars(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 13 || c === 10 || c === 0) return true;
  }
  return false;
}

function invalidRoute(route: HeaderPolicyRoute, what: string): RouterError {
  return new RouterError(
    'invalid_route',
    `route '${route.name}' cannot be used: ${what}; fix the provider at the gateway and, if the gateway is newer, upgrade the supervisor`,
    { details: { route: route.name } },
  );
}

/** Splits a comma-separated token list: trims, drops empties (duplicates are kept). */
export function splitListHeader(value: string): string[] {
  const out: string[] = [];
  for (const part of value.split(',')) {
    const t = part.trim();
    if (t.length > 0) out.push(t);
  }
  return out;
}

/**
 * Merges every client line of a list header with the required token(s): splits on commas, trims,
 * drops empties, de-duplicates case-insensitively keeping the client's order and first spelling, then
 * appends each required token that is missing. A required token always keeps its own spelling, also
 * where the client sent it in another case (upstreams compare these tokens case-sensitively, so a
 * client's `OAUTH-2025-04-20` must not stand in for `oauth-2025-04-20`). Returns the single line to send.
 */
export function mergeListHeader(clientValues: readonly string[], required: string | readonly string[]): string {
  const req = typeof required === 'string' ? splitListHeader(required) : required;
  // Token lists are short (a handful of betas): arrays with a linear look-up allocate and cost less
  // than a Map and a Set; a long (hostile) list switches to a Set so the merge stays linear.
  const reqLower: string[] = [];
  const reqSpelling: string[] = [];
  for (const t of req) {
    const trimmed = t.trim();
    reqLower.push(trimmed.toLowerCase());
    reqSpelling.push(trimmed);
  }
  const tokens: string[] = [];
  const keys: string[] = [];
  let seen: Set<string> | undefined;
  const add = (t: string) => {
    const key = t.toLowerCase();
    if (seen !== undefined ? seen.has(key) : keys.includes(key)) return;
    keys.push(key);
    if (seen !== undefined) seen.add(key);
    else if (keys.length > 32) seen = new Set(keys);
    const r = reqLower.indexOf(key);
    tokens.push(r === -1 ? t : (reqSpelling[r] as string));
  };
  for (const v of clientValues) for (const t of splitListHeader(v)) add(t);
  for (const t of reqSpelling) add(t);
  return tokens.join(',');
}

/**
 * Compiles a route's header policy (`strip` adds names removed like auth headers, e.g. the
 * Anthropic headers on Vertex rawPredict routes). Throws `invalid_route` when the policy could never be applied
 * safely (unknown auth style or merge rule, control characters, a policy header that is also
 * stripped). Messages name the header, never a value.
 */
export function compileHeaderPolicy(route: HeaderPolicyRoute, options?: { strip?: readonly string[] }): CompiledHeaderPolicy {
  const { auth, headerPolicy } = route;
  let authPair: readonly [string, string] | undefined;
  const stripped = new Set(STRIPPED);
  for (const name of options?.strip ?? []) stripped.add(name.toLowerCase());
  if (auth.style !== 'none' && auth.value.length === 0) throw invalidRoute(route, 'it has no credential value');
  switch (auth.style) {
    case 'bearer': {
      const name = (auth.headerName ?? 'authorization').toLowerCase();
      if (hasForbiddenHeaderChars(auth.value)) throw invalidRoute(route, 'its credential contains CR, LF or NUL');
      authPair = [name, `Bearer ${auth.value}`];
      stripped.add(name);
      break;
    }
    case 'header': {
      if (auth.headerName === undefined || !TOKEN.test(auth.headerName)) {
        throw invalidRoute(route, "auth style 'header' needs a valid headerName");
      }
      if (hasForbiddenHeaderChars(auth.value)) throw invalidRoute(route, 'its credential contains CR, LF or NUL');
      const name = auth.headerName.toLowerCase();
      authPair = [name, auth.value];
      stripped.add(name);
      break;
    }
    case 'none':
      break;
    default:
      throw invalidRoute(route, `auth style '${String((auth as { style: unknown }).style)}' is not understood`);
  }

  const allowExact = new Set(COMMON_ALLOWED_REQUEST_HEADERS);
  const allowPrefixes: string[] = [];
  for (const raw of headerPolicy.passthrough) {
    const p = raw.trim().toLowerCase();
    if (p.endsWith('*')) {
      const prefix = p.slice(0, -1);
      if (prefix.length === 0) throw invalidRoute(route, "passthrough pattern '*' would allow every header");
      allowPrefixes.push(prefix);
    } else if (p.length > 0) {
      allowExact.add(p);
    }
  }

  const required: CompiledHeaderPolicy['required'][number][] = [];
  const listRequired = new Map<string, number>();
  for (const h of headerPolicy.required) {
    const name = h.name.toLowerCase();
    if (!TOKEN.test(name)) throw invalidRoute(route, `required header name '${h.name}' is not a valid token`);
    if (hasForbiddenHeaderChars(h.value)) throw invalidRoute(route, `required header '${name}' contains CR, LF or NUL`);
    if (stripped.has(name)) throw invalidRoute(route, `required header '${name}' is reserved for the router`);
    if (h.merge === 'list') {
      listRequired.set(name, required.length);
      allowExact.add(name);
      required.push({ name, value: h.value, merge: 'list', tokens: splitListHeader(h.value) });
    } else if (h.merge === 'replace') {
      required.push({ name, value: h.value, merge: 'replace', tokens: [] });
    } else {
      throw invalidRoute(route, `required header '${name}' uses merge rule '${String(h.merge)}', which is not understood`);
    }
  }
  // `replace` headers: the client's lines are dropped entirely.
  for (const r of required) if (r.merge === 'replace') stripped.add(r.name);

  const defaults: (readonly [string, string])[] = [];
  for (const [rawName, value] of Object.entries(headerPolicy.defaults)) {
    const name = rawName.toLowerCase();
    if (!TOKEN.test(name)) throw invalidRoute(route, `default header name '${rawName}' is not a valid token`);
    if (hasForbiddenHeaderChars(value)) throw invalidRoute(route, `default header '${name}' contains CR, LF or NUL`);
    if (stripped.has(name)) throw invalidRoute(route, `default header '${name}' is reserved for the router`);
    if (listRequired.has(name)) continue; // a required header is always present; its default is moot
    allowExact.add(name);
    defaults.push([name, value]);
  }

  return { routeName: route.name, stripped, allowExact, allowPrefixes, required, listRequired, defaults, auth: authPair };
}

const compiledCache = new WeakMap<HeaderPolicyRoute, CompiledHeaderPolicy>();

/** The compiled policy of a route object, compiled on first use and cached for that object. */
export function headerPolicyFor(route: HeaderPolicyRoute): CompiledHeaderPolicy {
  let compiled = compiledCache.get(route);
  if (compiled === undefined) {
    compiled = compileHeaderPolicy(route);
    compiledCache.set(route, compiled);
  }
  return compiled;
}

function isAllowed(policy: CompiledHeaderPolicy, lower: string): boolean {
  if (policy.allowExact.has(lower)) return true;
  for (const p of policy.allowPrefixes) if (lower.startsWith(p)) return true;
  return false;
}

/**
 * Builds the upstream request headers from the client's raw header list (`[name, value, name, value…]`
 * as in Node's `req.rawHeaders`) and a route (or its compiled policy). Returns a flat
 * `[name, value, …]` list with lowercase names and exactly one line per name; the auth header is last.
 * Throws `invalid_header_value` / `invalid_header_name` (400) before anything could be sent.
 */
export function buildUpstreamHeaders(
  clientRawHeaders: readonly string[],
  routeOrPolicy: HeaderPolicyRoute | CompiledHeaderPolicy,
): string[] {
  const policy = 'allowExact' in routeOrPolicy ? routeOrPolicy : headerPolicyFor(routeOrPolicy);
  const n = clientRawHeaders.length - (clientRawHeaders.length % 2);

  // Pass 1: validate every line and collect the names `connection` nominates as hop-by-hop.
  let nominated: Set<string> | undefined;
  for (let i = 0; i < n; i += 2) {
    const name = clientRawHeaders[i] as string;
    const value = clientRawHeaders[i + 1] as string;
    if (!TOKEN.test(name)) {
      throw new RouterError('invalid_header_name', 'a client header name is not a valid HTTP token; nothing was sent upstream');
    }
    if (hasForbiddenHeaderChars(value)) {
      throw new RouterError(
        'invalid_header_value',
        `client header '${name.toLowerCase()}' contains CR, LF or NUL; remove the control characters (nothing was sent upstream)`,
        { details: { header: name.toLowerCase() } },
      );
    }
    if (name.length === 10 && name.toLowerCase() === 'connection') {
      nominated ??= new Set();
      for (const t of splitListHeader(value)) nominated.add(t.toLowerCase());
    }
  }

  // Pass 2: filter, fold duplicates into one line, remember where list-required headers go.
  const out: string[] = [];
  // Lowercase name → position of its value in `out`: a linear look-up over `out` for ordinary header
  // counts (no Map to allocate per request), a Map once the list is long.
  const index: Map<string, number> | undefined = n > 64 ? new Map() : undefined;
  const positionOf = (name: string): number | undefined => {
    if (index !== undefined) return index.get(name);
    for (let j = 0; j < out.length; j += 2) if (out[j] === name) return j + 1;
    return undefined;
  };
  const remember = (name: string, at: number) => {
    index?.set(name, at);
  };
  let listValues: string[][] | undefined;
  for (let i = 0; i < n; i += 2) {
    const lower = (clientRawHeaders[i] as string).toLowerCase();
    if (policy.stripped.has(lower) || nominated?.has(lower) === true) continue;
    const value = clientRawHeaders[i + 1] as string;
    const req = policy.listRequired.get(lower);
    if (req !== undefined) {
      listValues ??= policy.required.map(() => []);
      (listValues[req] as string[]).push(value);
      if (positionOf(lower) === undefined) {
        remember(lower, out.length + 1);
        out.push(lower, '');
      }
      continue;
    }
    if (!isAllowed(policy, lower)) continue;
    const at = positionOf(lower);
    if (at === undefined) {
      remember(lower, out.length + 1);
      out.push(lower, value);
    } else if (!SINGLETON_FIELDS.has(lower)) {
      out[at] = `${out[at] as string}, ${value}`;
    }
  }

  // Required headers: merged (list) or ours (replace); appended when the client sent none.
  for (let r = 0; r < policy.required.length; r++) {
    const h = policy.required[r] as CompiledHeaderPolicy['required'][number];
    const value = h.merge === 'list' ? mergeListHeader(listValues?.[r] ?? [], h.tokens) : h.value;
    const at = positionOf(h.name);
    if (at === undefined) {
      remember(h.name, out.length + 1);
      out.push(h.name, value);
    } else {
      out[at] = value;
    }
  }

  for (const [name, value] of policy.defaults) {
    if (positionOf(name) === undefined) out.push(name, value);
  }
  if (policy.auth !== undefined) out.push(policy.auth[0], policy.auth[1]);
  return out;
}

/**
 * Filters an upstream response's raw headers for relay to the client: drops hop-by-hop headers and
 * names listed in `connection`; everything else (content-length, content-encoding, set-cookie,
 * request-id, rate-limit headers) passes unchanged, duplicates kept. Returns `[name, value, …]`.
 */
export function filterResponseHeaders(raw: readonly (Buffer | string)[]): string[] {
  const n = raw.length - (raw.length % 2);
  let nominated: Set<string> | undefined;
  for (let i = 0; i < n; i += 2) {
    const name = asText(raw[i]!);
    if (name.length === 10 && name.toLowerCase() === 'connection') {
      nominated ??= new Set();
      for (const t of splitListHeader(asText(raw[i + 1]!))) nominated.add(t.toLowerCase());
    }
  }
  const out: string[] = [];
  for (let i = 0; i < n; i += 2) {
    const name = asText(raw[i]!);
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || nominated?.has(lower) === true) continue;
    out.push(name, asText(raw[i + 1]!));
  }
  return out;
}

function asText(v: Buffer | string): string {
  return typeof v === 'string' ? v : v.toString('latin1');
}
