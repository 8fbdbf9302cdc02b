import type { BundleRoute } from '@openshell/core';
import { type CompiledHeaderPolicy, compileHeaderPolicy } from './header-policy.js';
import { type CompiledBaseUrl, compileBaseUrl } from './upstream-url.js';

/** Everything the router derives from a route, computed once per route object. */
export interface CompiledRoute {
  readonly route: BundleRoute;
  readonly headers: CompiledHeaderPolicy;
  readonly base: CompiledBaseUrl;
  /** Anthropic-on-Vertex rawPredict: body shaped for Vertex, anthropic-beta/version headers dropped. */
  readonly vertexAnthropic: boolean;
  readonly protocols: ReadonlySet<string>;
}

const cache = new WeakMap<BundleRoute, CompiledRoute>();

/** True for Anthropic-on-Vertex routes (model in path and a `:rawPredict` override), as upstream detects them. */
export function isVertexAnthropicRoute(route: Pick<BundleRoute, 'modelInPath' | 'requestPathOverride' | 'protocols'>): boolean {
  return (
    route.modelInPath === true &&
    route.requestPathOverride?.endsWith(':rawPredict') === true &&
    route.protocols.includes('anthropic_messages')
  );
}

/**
 * Compiles a route (header policy, base URL, shaping flags) and caches the result for that route
 * object, so a supervisor pays once per bundle snapshot, not per request. Throws `invalid_route`.
 */
export function compileRoute(route: BundleRoute): CompiledRoute {
  let compiled = cache.get(route);
  if (compiled !== undefined) return compiled;
  const vertexAnthropic = isVertexAnthropicRoute(route);
  compiled = {
    route,
    headers: compileHeaderPolicy(route, vertexAnthropic ? { strip: ['anthropic-beta', 'anthropic-version'] } : undefined),
    base: compileBaseUrl(route.name, route.baseUrl),
    vertexAnthropic,
    protocols: new Set(route.protocols),
  };
  cache.set(route, compiled);
  return compiled;
}
