import { type BundleRoute, PROTOCOL_PATHS, type Protocol } from '@openshell/core';
import type { Forwarder, ProbeResponse } from '@openshell/router';
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
const CLAUDE_CODE_ONLY = /only authorized for use with Claude Code/i;
const SCOPE_LIMITED = /scope requirement/i;

/** The probe request of a route: a minimal generation call when a model is pinned, else model discovery. */
export function probeRequest(route: BundleRoute): { method: 'GET' | 'POST'; target: string; body?: string } | undefined {
  const has = (p: Protocol) => route.protocols.includes(p);
  if (route.model !== undefined && has('anthropic_messages')) {
    return {
      method: 'POST',
      target: PROTOCOL_PATHS.anthropic_messages,
      body: JSON.stringify({ model: route.model, max_tokens: 1, messages: [{ role: 'user', content: 'ping' }] }),
    };
  }
  if (route.model !== undefined && has('openai_chat_completions')) {
    return {
      method: 'POST',
      target: PROTOCOL_PATHS.openai_chat_completions,
      body: JSON.stringify({ model: route.model, max_tokens: 1, messages: [{ role: 'user', content: 'ping' }] }),
    };
  }
  if (has('model_discovery') && route.modelInPath !== true) return { method: 'GET', target: PROTOCOL_PATHS.model_discovery };
  return undefined;
}

/**
 * @openshell/router (and undici under it) is loaded by the first probe, not when this module is
 * imported: the package entry re-exports this module, and a gateway that never verifies a route
 * never needs the router. The module promise is kept; a failed load is not.
 */
let routerModule: Promise<typeof import('@openshell/router')> | undefined;
function loadRouter(): Promise<typeof import('@openshell/router')> {
  if (routerModule === undefined) {
    const loading = import('@openshell/router');
    routerModule = loading;
    loading.catch(() => {
      if (routerModule === loading) routerModule = undefined;
    });
  }
  return routerModule;
}

/** Router error codes that mean the route itself cannot be used (rather than the upstream failing). */
const ROUTE_PROBLEMS = new Set(['invalid_route', 'credential_expired', 'reauth_required', 'protocol_not_routed', 'unknown_inference_path']);

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
 * A probe that sends the request through @openshell/router's forwarder — the same header policy
 * (auth, required headers merged, defaults), URL building, model pinning and Vertex shaping the
 * boundary applies — and classifies the answer. Creating the probe loads nothing; its first call
 * loads the router.
 */
export function createRouteProbe(forwarder: Pick<Forwarder, 'request'>): RouteProbe {
  return async (route) => {
    const req = probeRequest(route);
    if (req === undefined) {
      throw new GatewayError(
        'verification_failed',
        `route '${route.name}' (${route.providerType}) has no protocol the gateway can probe without a model; set a model or use verify: false`,
      );
    }
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': PROBE_USER_AGENT };
    if (req.body !== undefined) headers['content-type'] = 'application/json';
    const where = `route '${route.name}' (${route.baseUrl})`;
    const { compileRoute, prepareUpstreamRequest, RouterError } = await loadRouter();
    // Where the router will send it (pure: no network), for the answer and messages.
    let url: string;
    try {
      const up = prepareUpstreamRequest(compileRoute(route), { method: req.method, target: req.target, rawHeaders: [], body: undefined });
      url = `${up.origin}${up.path}`;
    } catch (err) {
      throw new GatewayError('route_unusable', `${where}: ${(err as Error).message}`);
    }
    let res: ProbeResponse;
    try {
      res = await forwarder.request(route, { method: req.method, target: req.target, headers, ...(req.body === undefined ? {} : { body: req.body }) });
    } catch (err) {
      if (RouterError.isInstance(err) && ROUTE_PROBLEMS.has(err.code)) {
        throw new GatewayError('route_unusable', `${where}: ${err.message}`);
      }
      const code = RouterError.isInstance(err) ? err.code : 'error';
      throw new GatewayError('upstream_unreachable', `verification probe of ${where} failed (${code}); check the base URL and the network, or use verify: false`);
    }
    const text = res.body.toString('utf8');
    const base = { status: res.status, method: req.method, url } as const;
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
        `upstream ${url} rejected the credential of provider '${route.providerName}' with ${res.status}: ${detail}. Update the credential (or rotate it), or use verify: false`,
      );
    }
    if (res.status >= 500) {
      throw new GatewayError('upstream_unreachable', `upstream ${url} answered ${res.status}: ${detail}; retry later or use verify: false`);
    }
    if (res.status >= 300 && res.status < 400) {
      throw new GatewayError('verification_failed', `upstream ${url} answered a redirect (${res.status}); set the provider's base URL to the final API address`);
    }
    throw new GatewayError(
      'verification_failed',
      `upstream ${url} answered ${res.status} to the verification probe: ${detail}. Check the model name and base URL, or use verify: false`,
    );
  };
}
