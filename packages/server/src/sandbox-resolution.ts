import { type RouteBundle, resolveProviderEnvironment, Secret } from '@openshell/core';
import { contentRevision } from './canonical-hash.js';
import { fingerprintSecret } from './crypto/index.js';
import { GatewayError } from './errors.js';
import type { GatewayContext } from './gateway-context.js';
import { buildRouteBundle } from './route-bundle.js';
import type { ProviderForRoute } from './route-resolution.js';
import type { ProviderRecord, SandboxRecord } from './store/index.js';

/** A provider record with its credentials wrapped as `Secret`s. */
export function toProviderForRoute(p: ProviderRecord): ProviderForRoute {
  return {
    name: p.name,
    type: p.type,
    credentials: Object.fromEntries(Object.entries(p.credentials).map(([k, v]) => [k, new Secret(v)])),
    config: p.config,
    credentialExpiresAt: p.credentialExpiresAt,
  };
}

/** Secret-free reasons why a provider's credentials are not being refreshed (`reauth_required` / `error`). */
export async function refreshProblems(ctx: GatewayContext, provider: string): Promise<(p: string, key: string) => string | undefined> {
  const problems = new Map<string, string>();
  for (const s of await ctx.store.listRefreshStates(provider)) {
    if ((s.status === 'reauth_required' || s.status === 'error') && s.lastError !== undefined) problems.set(`${s.provider}\0${s.key}`, s.lastError);
  }
  return (p, key) => problems.get(`${p}\0${key}`);
}

/** The current record of a sandbox; `invalid_token` when it was deleted (its tokens died with it). */
export async function currentSandbox(ctx: GatewayContext, name: string): Promise<SandboxRecord> {
  const sandbox = await ctx.store.getSandbox(name);
  if (sandbox === undefined) {
    throw new GatewayError('invalid_token', `sandbox '${name}' was deleted; its tokens no longer work`);
  }
  return sandbox;
}

async function boundProviders(ctx: GatewayContext, sandbox: SandboxRecord): Promise<ProviderRecord[]> {
  const out: ProviderRecord[] = [];
  for (const name of sandbox.providers) {
    const p = await ctx.store.getProvider(name);
    if (p !== undefined) out.push(p);
  }
  return out;
}

/** Refresh facts of the bound providers: which credentials are refreshed, and why some cannot be. */
async function refreshFacts(ctx: GatewayContext, providers: readonly ProviderRecord[]) {
  const refreshable = new Set<string>();
  const problems = new Map<string, string>();
  for (const p of providers) {
    for (const s of await ctx.store.listRefreshStates(p.name)) {
      const key = `${s.provider}\0${s.key}`;
      if (s.status !== 'reauth_required') refreshable.add(key);
      if ((s.status === 'reauth_required' || s.status === 'error') && s.lastError !== undefined) problems.set(key, s.lastError);
    }
  }
  return {
    isRefreshable: (provider: string, key: string) => refreshable.has(`${provider}\0${key}`),
    refreshProblem: (provider: string, key: string) => problems.get(`${provider}\0${key}`),
  };
}

/** The route bundle of a sandbox, freshly resolved from the store. */
export async function sandboxBundle(ctx: GatewayContext, sandboxName: string): Promise<RouteBundle> {
  const sandbox = await currentSandbox(ctx, sandboxName);
  const providers = await boundProviders(ctx, sandbox);
  const facts = await refreshFacts(ctx, providers);
  const routes = await ctx.store.listRoutes();
  const { bundle, skipped } = buildRouteBundle({
    routes,
    boundProviders: providers.map(toProviderForRoute),
    profileFor: (type) => ctx.catalogue.profiles.get(type),
    ctx: {
      now: ctx.now(),
      fingerprint: fingerprintSecret,
      ...facts,
    },
  });
  for (const s of skipped) {
    ctx.log.warn({ sandbox: sandboxName, route: s.route, provider: s.provider, reason: s.reason }, 'route left out of the bundle');
  }
  return bundle;
}

/** The injectable environment of a sandbox (core's `resolveProviderEnvironment`) and its revision. */
export async function sandboxEnvironment(
  ctx: GatewayContext,
  sandboxName: string,
): Promise<{ sandbox: string; environment: Record<string, string>; revision: string }> {
  const sandbox = await currentSandbox(ctx, sandboxName);
  const providers = await boundProviders(ctx, sandbox);
  const environment = resolveProviderEnvironment(
    providers.map((p) => ({ name: p.name, type: p.type, credentials: p.credentials })),
    ctx.catalogue.profiles,
  );
  return { sandbox: sandbox.name, environment, revision: contentRevision({ environment }) };
}
