import { BUNDLE_SCHEMA_VERSION, type BundleRoute, type EgressRule, type ProviderProfile, type RouteBundle } from '@openshell/core';
import { contentRevision } from './canonical-hash.js';
import { GatewayError } from './errors.js';
import { type ProviderForRoute, type RouteConfig, type RouteResolutionContext, resolveBundleRoute } from './route-resolution.js';

/** A route that was left out of a bundle, and why (logged; never contains a secret). */
export interface SkippedRoute {
  readonly route: string;
  readonly provider: string;
  readonly reason: string;
}

/**
 * Builds the route bundle of one sandbox: only routes whose provider is bound to it, each fully
 * resolved; egress = the endpoints of the bound providers' profiles. A route that cannot be resolved
 * (e.g. an expired credential) is left out and reported in `skipped`, so one broken route never takes
 * the others down. `revision` hashes the whole content, credentials included, so any relevant
 * change — a rotated token, a new route, a binding — changes it.
 */
export function buildRouteBundle(input: {
  routes: readonly RouteConfig[];
  boundProviders: readonly ProviderForRoute[];
  profileFor: (type: string) => ProviderProfile | undefined;
  ctx: RouteResolutionContext;
}): { bundle: RouteBundle; skipped: SkippedRoute[] } {
  const byName = new Map(input.boundProviders.map((p) => [p.name, p]));
  const routes: BundleRoute[] = [];
  const skipped: SkippedRoute[] = [];
  for (const route of [...input.routes].sort((a, b) => a.name.localeCompare(b.name))) {
    const provider = byName.get(route.provider);
    if (provider === undefined) continue;
    try {
      routes.push(resolveBundleRoute(route, provider, input.profileFor(provider.type), input.ctx));
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      skipped.push({ route: route.name, provider: provider.name, reason: err.message });
    }
  }
  const egressKeys = new Set<string>();
  const egress: EgressRule[] = [];
  for (const provider of [...input.boundProviders].sort((a, b) => a.name.localeCompare(b.name))) {
    for (const ep of input.profileFor(provider.type)?.endpoints ?? []) {
      const key = `${ep.host.toLowerCase()}:${ep.port}`;
      if (egressKeys.has(key)) continue;
      egressKeys.add(key);
      egress.push({ host: ep.host.toLowerCase(), port: ep.port });
    }
  }
  egress.sort((a, b) => (a.host === b.host ? a.port - b.port : a.host.localeCompare(b.host)));
  const content = { schemaVersion: BUNDLE_SCHEMA_VERSION, routes, egress };
  return { bundle: { ...content, revision: contentRevision(content) }, skipped };
}
