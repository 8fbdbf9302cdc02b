import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { fingerprintSecret } from '../crypto/index.js';
import { GatewayError } from '../errors.js';
import type { GatewayContext } from '../gateway-context.js';
import { resolveBundleRoute } from '../route-resolution.js';
import { refreshProblems, toProviderForRoute } from '../sandbox-resolution.js';
import { parseRequest } from '../validation.js';
import { DEFAULT_ROUTE_NAME } from './inference-routes.js';
import { resourceName } from './schemas.js';

const verifyBody = z
  .strictObject({
    model: z.string().min(1, 'must not be empty; omit it to probe model discovery').max(256).optional(),
    /** Route name the probe is labelled with (default `inference.local`); nothing is saved. */
    route: resourceName.optional(),
  })
  .default({});

const nameParams = z.object({ name: resourceName });

/**
 * `POST /v1/providers/:name/verify` (admin): the same probe as setting an inference route — the
 * provider resolved to a route with its full header policy — without saving anything and without
 * touching the refresh engine (a harvested refresh token is never spent by a verification).
 */
export function registerProviderVerifyRoute(app: FastifyInstance, ctx: GatewayContext): void {
  app.post('/v1/providers/:name/verify', async (request) => {
    const { name } = parseRequest(nameParams, request.params, 'params');
    const body = parseRequest(verifyBody, request.body ?? {}, 'body');
    const provider = await ctx.store.getProvider(name);
    if (provider === undefined) {
      throw new GatewayError('provider_not_found', `provider '${name}' does not exist; list providers with GET /v1/providers`);
    }
    const route = resolveBundleRoute(
      { name: body.route ?? DEFAULT_ROUTE_NAME, provider: provider.name, model: body.model },
      toProviderForRoute(provider),
      ctx.catalogue.profiles.get(provider.type),
      { now: ctx.now(), fingerprint: fingerprintSecret, refreshProblem: await refreshProblems(ctx, provider.name) },
    );
    const result = await ctx.probe(route);
    request.log.info({ provider: name, status: result.status }, 'provider verified');
    return {
      verification: {
        performed: true,
        status: result.status,
        method: result.method,
        url: result.url,
        ...(result.note === undefined ? {} : { note: result.note }),
      },
    };
  });
}
