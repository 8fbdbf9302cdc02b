import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { fingerprintSecret } from '../crypto/index.js';
import { GatewayError } from '../errors.js';
import type { GatewayContext } from '../gateway-context.js';
import { routeView } from '../provider-view.js';
import { resolveBundleRoute } from '../route-resolution.js';
import { refreshProblems, toProviderForRoute } from '../sandbox-resolution.js';
import { StoreError } from '../store/index.js';
import { parseRequest } from '../validation.js';
import { resourceName, resourceVersion } from './schemas.js';

/** The route name sandbox clients reach. */
export const DEFAULT_ROUTE_NAME = 'inference.local';

const putBody = z.strictObject({
  provider: resourceName,
  model: z.string().min(1, 'must not be empty; omit it to let clients choose').max(256).optional(),
  timeoutSeconds: z.number().int('must be whole seconds').min(1).max(3600).optional(),
  /** Default true: send a probe upstream before saving. */
  verify: z.boolean().default(true),
  /** When given, the update is compare-and-swap on the route's resourceVersion. */
  resourceVersion: resourceVersion.optional(),
});

const routeParams = z.object({ route: resourceName });

function routeNotFound(name: string): GatewayError {
  return new GatewayError(
    'route_not_found',
    `inference route '${name}' is not configured; set it with PUT /v1/inference/routes/${name} (CLI: openshell inference set --provider <name>)`,
  );
}

/** Inference routes (admin): set (with verification), get, list, delete. */
export function registerInferenceRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  app.put('/v1/inference/routes/:route', async (request) => {
    const { route: name } = parseRequest(routeParams, request.params, 'params');
    const body = parseRequest(putBody, request.body, 'body');
    const provider = await ctx.store.getProvider(body.provider);
    if (provider === undefined) {
      throw new GatewayError('unknown_provider', `provider '${body.provider}' does not exist; create it first (GET /v1/providers lists them)`, {
        field: 'body.provider',
      });
    }
    const resolved = resolveBundleRoute(
      { name, provider: provider.name, model: body.model, timeoutSeconds: body.timeoutSeconds },
      toProviderForRoute(provider),
      ctx.catalogue.profiles.get(provider.type),
      { now: ctx.now(), fingerprint: fingerprintSecret, refreshProblem: await refreshProblems(ctx, provider.name) },
    );
    let verification: Record<string, unknown> = { performed: false };
    if (body.verify) {
      const result = await ctx.probe(resolved);
      verification = { performed: true, status: result.status, method: result.method, url: result.url, ...(result.note ? { note: result.note } : {}) };
      request.log.info({ route: name, provider: provider.name, status: result.status }, 'inference route verified');
    }
    try {
      const saved = await ctx.store.putRoute({
        name,
        provider: provider.name,
        ...(body.model === undefined ? {} : { model: body.model }),
        ...(body.timeoutSeconds === undefined ? {} : { timeoutSeconds: body.timeoutSeconds }),
        ...(body.resourceVersion === undefined ? {} : { expectedResourceVersion: body.resourceVersion }),
      });
      request.log.info({ route: name, provider: provider.name }, 'inference route set');
      return { ...routeView(saved), verification };
    } catch (err) {
      if (StoreError.is(err, 'not_found')) {
        if (body.resourceVersion !== undefined && (await ctx.store.getRoute(name)) === undefined) throw routeNotFound(name);
        throw new GatewayError('unknown_provider', `provider '${body.provider}' was deleted meanwhile; create it again`, { field: 'body.provider' });
      }
      throw err;
    }
  });

  app.get('/v1/inference/routes', async () => ({ routes: (await ctx.store.listRoutes()).map(routeView) }));

  app.get('/v1/inference/routes/:route', async (request) => {
    const { route: name } = parseRequest(routeParams, request.params, 'params');
    const r = await ctx.store.getRoute(name);
    if (r === undefined) throw routeNotFound(name);
    return routeView(r);
  });

  app.delete('/v1/inference/routes/:route', async (request) => {
    const { route: name } = parseRequest(routeParams, request.params, 'params');
    try {
      await ctx.store.deleteRoute(name);
    } catch (err) {
      if (StoreError.is(err, 'not_found')) throw routeNotFound(name);
      throw err;
    }
    request.log.info({ route: name }, 'inference route deleted');
    return { deleted: true, name };
  });
}
