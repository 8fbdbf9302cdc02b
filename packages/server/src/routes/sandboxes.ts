import { resolveProviderEnvironment } from '@openshell/core';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { GatewayError } from '../errors.js';
import type { GatewayContext } from '../gateway-context.js';
import { sandboxView } from '../provider-view.js';
import { type ProviderRecord, type SandboxRecord, StoreError } from '../store/index.js';
import { generateToken, hashToken, SANDBOX_TOKEN_PREFIX } from '../tokens.js';
import { parseRequest } from '../validation.js';
import { resourceName, resourceVersion, sandboxName } from './schemas.js';

/** Longest lifetime of an on-demand sandbox token with a TTL (30 days). */
const MAX_TOKEN_TTL_SECONDS = 30 * 24 * 3600;

const providerList = z.array(resourceName).max(32, 'at most 32 providers per sandbox');

const createBody = z.strictObject({
  name: sandboxName,
  providers: providerList.default([]),
});

const updateBody = z
  .strictObject({
    resourceVersion,
    /** The complete new list of bound providers. */
    providers: providerList.optional(),
    /** Providers to add (kept in order, duplicates ignored). */
    bind: providerList.optional(),
    /** Providers to remove. */
    unbind: providerList.optional(),
  })
  .refine((b) => !(b.providers !== undefined && (b.bind !== undefined || b.unbind !== undefined)), {
    message: 'give either providers (the full list) or bind/unbind, not both',
    path: ['providers'],
  });

const tokenBody = z
  .strictObject({
    ttlSeconds: z.number().int('must be whole seconds').min(1).max(MAX_TOKEN_TTL_SECONDS, `must be at most ${MAX_TOKEN_TTL_SECONDS}`).optional(),
  })
  .default({});

const nameParams = z.object({ name: sandboxName });

function sandboxNotFound(name: string): GatewayError {
  return new GatewayError('sandbox_not_found', `sandbox '${name}' does not exist; list sandboxes with GET /v1/sandboxes`);
}

/** Throws `unknown_provider` naming every provider that does not exist; checks their environments do not collide. */
async function checkProviders(ctx: GatewayContext, names: readonly string[]): Promise<void> {
  const found: ProviderRecord[] = [];
  const missing: string[] = [];
  for (const n of names) {
    const p = await ctx.store.getProvider(n);
    if (p === undefined) missing.push(n);
    else found.push(p);
  }
  if (missing.length > 0) {
    throw new GatewayError(
      'unknown_provider',
      `unknown provider${missing.length > 1 ? 's' : ''} ${missing.map((m) => `'${m}'`).join(', ')}; create ${missing.length > 1 ? 'them' : 'it'} first (GET /v1/providers lists providers)`,
      { field: 'body.providers' },
    );
  }
  // Fails with environment_conflict (409) when two bound providers set the same variable.
  resolveProviderEnvironment(
    found.map((p) => ({ name: p.name, type: p.type, credentials: p.credentials })),
    ctx.catalogue.profiles,
  );
}

function dedupe(names: readonly string[]): string[] {
  return [...new Set(names)];
}

async function issueToken(ctx: GatewayContext, sandbox: string, ttlSeconds: number | undefined): Promise<{ token: string; expiresAt?: number }> {
  const token = generateToken(SANDBOX_TOKEN_PREFIX);
  ctx.registry.register(token);
  const expiresAt = ttlSeconds === undefined ? undefined : ctx.now() + ttlSeconds * 1000;
  await ctx.store.createSandboxToken({ sandbox, hash: hashToken(token), ...(expiresAt === undefined ? {} : { expiresAt }) });
  return expiresAt === undefined ? { token } : { token, expiresAt };
}

/** Sandboxes (admin): create (returns a token once), list, get, update bindings, delete, issue tokens. */
export function registerSandboxRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  app.post('/v1/sandboxes', async (request, reply) => {
    const body = parseRequest(createBody, request.body, 'body');
    const providers = dedupe(body.providers);
    await checkProviders(ctx, providers);
    let created: SandboxRecord;
    try {
      created = await ctx.store.createSandbox({ name: body.name, providers });
    } catch (err) {
      if (StoreError.is(err, 'already_exists')) {
        throw new GatewayError('sandbox_exists', `sandbox '${body.name}' already exists; choose another name or update it with PATCH`);
      }
      if (StoreError.is(err, 'not_found')) {
        throw new GatewayError('unknown_provider', `a provider was deleted meanwhile: ${err.message}`, { field: 'body.providers' });
      }
      throw err;
    }
    const issued = await issueToken(ctx, created.name, undefined);
    request.log.info({ sandbox: created.name, providers }, 'sandbox created');
    return reply.code(201).send({ ...sandboxView(created), token: issued.token });
  });

  app.get('/v1/sandboxes', async () => ({ sandboxes: (await ctx.store.listSandboxes()).map(sandboxView) }));

  app.get('/v1/sandboxes/:name', async (request) => {
    const { name } = parseRequest(nameParams, request.params, 'params');
    const s = await ctx.store.getSandbox(name);
    if (s === undefined) throw sandboxNotFound(name);
    return sandboxView(s);
  });

  app.patch('/v1/sandboxes/:name', async (request) => {
    const { name } = parseRequest(nameParams, request.params, 'params');
    const body = parseRequest(updateBody, request.body, 'body');
    const current = await ctx.store.getSandbox(name);
    if (current === undefined) throw sandboxNotFound(name);
    if (current.resourceVersion !== body.resourceVersion) {
      throw new GatewayError(
        'resource_version_conflict',
        `sandbox '${name}' is at resourceVersion ${current.resourceVersion}, not ${body.resourceVersion}: re-read it and retry with the current resourceVersion`,
      );
    }
    let providers: string[];
    if (body.providers !== undefined) providers = dedupe(body.providers);
    else {
      const unbind = new Set(body.unbind ?? []);
      const unknownUnbind = [...unbind].filter((p) => !current.providers.includes(p));
      if (unknownUnbind.length > 0) {
        throw new GatewayError('invalid_request', `unbind: ${unknownUnbind.join(', ')} ${unknownUnbind.length > 1 ? 'are' : 'is'} not bound to sandbox '${name}'`, {
          field: 'body.unbind',
        });
      }
      providers = dedupe([...current.providers.filter((p) => !unbind.has(p)), ...(body.bind ?? [])]);
    }
    await checkProviders(ctx, providers);
    try {
      const updated = await ctx.store.updateSandbox(name, { expectedResourceVersion: body.resourceVersion, providers });
      request.log.info({ sandbox: name, providers }, 'sandbox updated');
      return sandboxView(updated);
    } catch (err) {
      if (StoreError.is(err, 'not_found') && (await ctx.store.getSandbox(name)) === undefined) throw sandboxNotFound(name);
      if (StoreError.is(err, 'not_found')) {
        throw new GatewayError('unknown_provider', `a provider was deleted meanwhile: ${err.message}`, { field: 'body.providers' });
      }
      throw err;
    }
  });

  app.delete('/v1/sandboxes/:name', async (request) => {
    const { name } = parseRequest(nameParams, request.params, 'params');
    try {
      await ctx.store.deleteSandbox(name);
    } catch (err) {
      if (StoreError.is(err, 'not_found')) throw sandboxNotFound(name);
      throw err;
    }
    request.log.info({ sandbox: name }, 'sandbox deleted; its tokens are revoked');
    return { deleted: true, name };
  });

  app.post('/v1/sandboxes/:name/tokens', async (request, reply) => {
    const { name } = parseRequest(nameParams, request.params, 'params');
    const body = parseRequest(tokenBody, request.body ?? {}, 'body');
    const s = await ctx.store.getSandbox(name);
    if (s === undefined) throw sandboxNotFound(name);
    try {
      const issued = await issueToken(ctx, name, body.ttlSeconds);
      request.log.info({ sandbox: name, ttlSeconds: body.ttlSeconds }, 'sandbox token issued');
      return reply.code(201).send(issued);
    } catch (err) {
      if (StoreError.is(err, 'not_found')) throw sandboxNotFound(name);
      throw err;
    }
  });
}
