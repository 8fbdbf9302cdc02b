import { normalizeProviderType } from '@openshell/core';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { validateCredentials } from '../credential-validation.js';
import { GatewayError } from '../errors.js';
import type { GatewayContext } from '../gateway-context.js';
import { providerView } from '../provider-view.js';
import { StoreError } from '../store/index.js';
import { parseRequest } from '../validation.js';
import { booleanQuery, expiryMap, resourceName, resourceVersion, stringMap } from './schemas.js';

const createBody = z.strictObject({
  name: resourceName,
  type: z.string().min(1, 'must not be empty'),
  credentials: stringMap(32).default({}),
  config: stringMap(64).default({}),
  credentialExpiresAt: expiryMap.default({}),
});

const updateBody = z.strictObject({
  resourceVersion,
  type: z.string().optional(),
  /** Merged into the stored credentials; an empty value deletes the key. */
  credentials: stringMap(32).optional(),
  /** Merged into the stored config; an empty value deletes the key. */
  config: stringMap(64).optional(),
  /** Merged; 0 deletes the key's expiry. */
  credentialExpiresAt: expiryMap.optional(),
});

const nameParams = z.object({ name: resourceName });
const deleteQuery = z.object({ force: booleanQuery.optional() });

function merge(base: Readonly<Record<string, string>>, patch: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out = { ...base };
  for (const [k, v] of Object.entries(patch ?? {})) {
    if (v === '') delete out[k];
    else out[k] = v;
  }
  return out;
}

function providerNotFound(name: string): GatewayError {
  return new GatewayError('provider_not_found', `provider '${name}' does not exist; list providers with GET /v1/providers`);
}

/** Provider CRUD (admin). */
export function registerProviderRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  const normalize = (input: string): string => normalizeProviderType(input, ctx.catalogue.extraTypes);

  app.post('/v1/providers', async (request, reply) => {
    const body = parseRequest(createBody, request.body, 'body');
    const type = normalize(body.type);
    validateCredentials(type, body.credentials, ctx.catalogue.profiles.get(type));
    for (const key of Object.keys(body.credentialExpiresAt)) {
      if (!(key in body.credentials)) {
        throw new GatewayError('invalid_request', `credentialExpiresAt.${key}: no credential ${key} is given`, { field: `body.credentialExpiresAt.${key}` });
      }
    }
    const expires = Object.fromEntries(Object.entries(body.credentialExpiresAt).filter(([, v]) => v > 0));
    try {
      const created = await ctx.store.createProvider({
        name: body.name,
        type,
        credentials: body.credentials,
        config: body.config,
        credentialExpiresAt: expires,
      });
      request.log.info({ provider: created.name, type }, 'provider created');
      return reply.code(201).send(providerView(created));
    } catch (err) {
      if (StoreError.is(err, 'already_exists')) {
        throw new GatewayError('provider_exists', `provider '${body.name}' already exists; choose another name or update it with PATCH /v1/providers/${body.name}`);
      }
      throw err;
    }
  });

  app.get('/v1/providers', async () => {
    const providers = await ctx.store.listProviders();
    return { providers: providers.map(providerView) };
  });

  app.get('/v1/providers/:name', async (request) => {
    const { name } = parseRequest(nameParams, request.params, 'params');
    const p = await ctx.store.getProvider(name);
    if (p === undefined) throw providerNotFound(name);
    return providerView(p);
  });

  app.patch('/v1/providers/:name', async (request) => {
    const { name } = parseRequest(nameParams, request.params, 'params');
    const body = parseRequest(updateBody, request.body, 'body');
    const current = await ctx.store.getProvider(name);
    if (current === undefined) throw providerNotFound(name);
    if (body.type !== undefined && body.type.trim() !== '' && normalize(body.type) !== current.type) {
      throw new GatewayError(
        'provider_type_immutable',
        `provider '${name}' has type '${current.type}'; a type cannot be changed: delete the provider and create it again`,
        { field: 'body.type' },
      );
    }
    if (current.resourceVersion !== body.resourceVersion) {
      throw new GatewayError(
        'resource_version_conflict',
        `provider '${name}' is at resourceVersion ${current.resourceVersion}, not ${body.resourceVersion}: re-read it and retry with the current resourceVersion`,
      );
    }
    const credentials = merge(current.credentials, body.credentials);
    validateCredentials(current.type, credentials, ctx.catalogue.profiles.get(current.type));
    const expires: Record<string, number> = { ...current.credentialExpiresAt };
    // A replaced or deleted value loses the old value's expiry unless a new one is given.
    for (const [k, v] of Object.entries(body.credentials ?? {})) {
      if (v === '' || v !== current.credentials[k]) delete expires[k];
    }
    for (const [k, v] of Object.entries(body.credentialExpiresAt ?? {})) {
      if (v === 0) delete expires[k];
      else if (!(k in credentials)) {
        throw new GatewayError('invalid_request', `credentialExpiresAt.${k}: provider '${name}' has no credential ${k}`, { field: `body.credentialExpiresAt.${k}` });
      } else expires[k] = v;
    }
    try {
      const updated = await ctx.store.updateProvider(name, {
        expectedResourceVersion: body.resourceVersion,
        credentials,
        config: merge(current.config, body.config),
        credentialExpiresAt: expires,
      });
      request.log.info({ provider: name, resourceVersion: updated.resourceVersion }, 'provider updated');
      return providerView(updated);
    } catch (err) {
      if (StoreError.is(err, 'not_found')) throw providerNotFound(name);
      throw err;
    }
  });

  app.delete('/v1/providers/:name', async (request) => {
    const { name } = parseRequest(nameParams, request.params, 'params');
    const { force } = parseRequest(deleteQuery, request.query, 'query');
    try {
      const result = await ctx.store.deleteProvider(name, { force: force === true });
      request.log.info({ provider: name, ...result }, 'provider deleted');
      return { deleted: true, name, deletedRoutes: result.deletedRoutes, unboundSandboxes: result.unboundSandboxes };
    } catch (err) {
      if (StoreError.is(err, 'not_found')) throw providerNotFound(name);
      if (StoreError.is(err, 'in_use')) {
        const d = err.details ?? {};
        const routes = Array.isArray(d.routes) ? (d.routes as string[]) : [];
        const sandboxes = Array.isArray(d.sandboxes) ? (d.sandboxes as string[]) : [];
        const uses = [
          routes.length > 0 ? `inference route(s) ${routes.join(', ')}` : '',
          sandboxes.length > 0 ? `sandbox(es) ${sandboxes.join(', ')}` : '',
        ].filter((s) => s !== '');
        throw new GatewayError(
          'provider_in_use',
          `provider '${name}' is used by ${uses.join(' and ') || 'a route or sandbox'}; delete or rebind those first, or repeat with ?force=true (deletes its routes and unbinds it)`,
        );
      }
      throw err;
    }
  });
}
