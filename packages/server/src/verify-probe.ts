import { type BundleRoute, PROTOCOL_PATHS, type Protocol } from '@openshell/core';
import { buildUpstreamHeaders } from '@openshell/router/headers';
import { GatewayError } from './errors.js';

/** What the verification probe found. */
export interface ProbeResult {
  /** `authenticated`: the upstream accepted the credential (including Anthropic's Claude-Code-only 400, a 429, or a scope-limited 403). */
  readonly outcome: 'authenticated';
  readonly status: number;
  readonly method: 'GET' | 'POST';
  /** Upstream URL probed (no secret: the credential travels in a header). */
  readonly url: string;
  readonly note?: string;
}

/** Sends one verification request for a resolved route; throws `verification_failed` or `upstream_unreachable`. */
export type RouteProbe = (route: BundleRoute) => Promise<ProbeResult>;

const PROBE_USER_AGENT = 'openshell-gateway-verify/0.1';
const PROBE_TIMEOUT_MS = 20_000;
const CLAUDE_CODE_ONLY = /only authorized for use with Claude Code/i;
const SCOPE_LIMITED = /scope requirement/i;

/** Joins a base URL and a protocol path without doubling the version segment (`…/v1` + `/v1/messages`). */
export function joinUpstreamUrl(baseUrl: string, protocolPath: string): string {
  const base = baseUrl.replace(/\/+$/, '');
  const m = /^\/(v\d+)(\/.*)?$/.exec(protocolPath);
  if (m !== null && base.endsWith(`/${m[1]}`)) return `${base}${m[2] ?? ''}`;
  return `${base}${protocolPath}`;
}

/** The probe request of a route: a minimal generation call when a model is pinned, else model discovery. */
export function probeRequest(route: BundleRoute): { method: 'GET' | 'POST'; url: string; body?: string } | undefined {
  const has = (p: Protocol) => route.protocols.includes(p);
  if (route.model !== undefined && has('anthropic_messages')) {
    return {
      method: 'POST',
      url: joinUpstreamUrl(route.baseUrl, PROTOCOL_PATHS.anthropic_messages),
      body: JSON.stringify({ model: route.model, max_tokens: 1, messages: [{ role: 'user', content: 'ping' }] }),
    };
  }
  if (route.model !== undefined && has('openai_chat_completions')) {
    return {
      method: 'POST',
      url: joinUpstreamUrl(route.baseUrl, PROTOCOL_PATHS.openai_chat_completions),
      body: JSON.stringify({ model: route.model, max_tokens: 1, messages: [{ role: 'user', content: 'ping' }] }),
    };
  }
  if (has('model_discovery')) return { method: 'GET', url: joinUpstreamUrl(route.baseUrl, PROTOCOL_PATHS.model_discovery) };
  return undefined;
}

function upstreamMessage(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    const m = typeof body.error === 'object' ? body.error?.message : (body.error ?? body.message);
    if (typeof m === 'string') return m.slice(0, 300);
  } catch {
    // not JSON: fall through
  }
  return text.trim().slice(0, 120) || '(empty body)';
}

/**
 * The default probe: applies the route's complete header policy through @openshell/router (auth,
 * required headers merged, defaults) exactly as the boundary would, and classifies the answer.
 */
export const defaultRouteProbe: RouteProbe = async (route) => {
  const req = probeRequest(route);
  if (req === undefined) {
    throw new GatewayError(
      'verification_failed',
      `route '${route.name}' (${route.providerType}) has no protocol the gateway can probe without a model; set a model or use verify: false`,
    );
  }
  const client = ['accept', 'application/json', 'user-agent', PROBE_USER_AGENT];
  if (req.body !== undefined) client.push('content-type', 'application/json');
  const flat = buildUpstreamHeaders(client, route);
  const headers = new Headers();
  for (let i = 0; i + 1 < flat.length; i += 2) headers.set(flat[i] as string, flat[i + 1] as string);

  let res: Response;
  try {
    res = await fetch(req.url, {
      method: req.method,
      headers,
      redirect: 'manual',
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
      ...(req.body === undefined ? {} : { body: req.body }),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: unknown } }).cause;
    const why = typeof cause?.code === 'string' ? cause.code : (err as Error).name;
    throw new GatewayError('upstream_unreachable', `verification probe to ${req.url} failed (${why}); check the base URL and the network, or use verify: false`);
  }
  const text = await res.text().catch(() => '');
  const base = { status: res.status, method: req.method, url: req.url } as const;
  if (res.status >= 200 && res.status < 300) return { outcome: 'authenticated', ...base };
  if (res.status === 400 && CLAUDE_CODE_ONLY.test(text)) {
    return { outcome: 'authenticated', ...base, note: 'the credential is valid but only authorized for Claude Code (expected for anthropic-oauth)' };
  }
  if (res.status === 429) return { outcome: 'authenticated', ...base, note: 'rate limited upstream; the credential was accepted' };
  if (res.status === 403 && SCOPE_LIMITED.test(text)) {
    return { outcome: 'authenticated', ...base, note: 'the credential lacks a scope for this probe endpoint but was accepted' };
  }
  const detail = upstreamMessage(text);
  if (res.status === 401 || res.status === 403) {
    throw new GatewayError(
      'verification_failed',
      `upstream ${req.url} rejected the credential of provider '${route.providerName}' with ${res.status}: ${detail}. Update the credential (or rotate it), or use verify: false`,
    );
  }
  if (res.status >= 500) {
    throw new GatewayError('upstream_unreachable', `upstream ${req.url} answered ${res.status}: ${detail}; retry later or use verify: false`);
  }
  if (res.status >= 300 && res.status < 400) {
    throw new GatewayError('verification_failed', `upstream ${req.url} answered a redirect (${res.status}); set the provider's base URL to the final API address`);
  }
  throw new GatewayError(
    'verification_failed',
    `upstream ${req.url} answered ${res.status} to the verification probe: ${detail}. Check the model name and base URL, or use verify: false`,
  );
};
