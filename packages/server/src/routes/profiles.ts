import { inferenceProfileFor, tryNormalizeProviderType } from '@openshell/core';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { GatewayError } from '../errors.js';
import type { GatewayContext } from '../gateway-context.js';
import { parseRequest } from '../validation.js';

const idParams = z.object({ id: z.string().min(1).max(128) });

/** The profile catalogue (admin): built-ins plus `--profiles-dir`, each with its source. */
export function registerProfileRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  const view = (id: string) => {
    const profile = ctx.catalogue.profiles.get(id);
    if (profile === undefined) return undefined;
    const inference = inferenceProfileFor(id);
    return {
      ...profile,
      source: ctx.catalogue.sources.get(id) === 'builtin' ? 'builtin' : 'admin',
      ...(inference === undefined
        ? {}
        : {
            routing: {
              defaultBaseUrl: inference.defaultBaseUrl,
              protocols: inference.protocols,
              credentialKeyNames: inference.credentialKeyNames,
              credentialLookup: inference.credentialLookup,
              baseUrlConfigKeys: inference.baseUrlConfigKeys,
            },
          }),
    };
  };

  app.get('/v1/profiles', async () => ({
    profiles: [...ctx.catalogue.profiles.keys()].sort().map((id) => view(id)),
  }));

  app.get('/v1/profiles/:id', async (request) => {
    const { id } = parseRequest(idParams, request.params, 'params');
    const canonical = tryNormalizeProviderType(id, ctx.catalogue.extraTypes) ?? id;
    const v = view(canonical);
    if (v === undefined) throw new GatewayError('profile_not_found', `no provider profile '${id}'; list them with GET /v1/profiles`);
    return v;
  });
}
