import type { RouteBundle } from '@openshell/core';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { StoreError } from '../store/errors.js';
import type { Store } from '../store/types.js';
import { configureRefreshBodySchema } from './refresh-config.js';
import type { RefreshEngine, RefreshOutcome } from './refresh-engine.js';
import { REFRESH_ERROR_CODES, RefreshError, type RefreshErrorCode } from './refresh-error.js';

/** An async authentication hook (fastify `onRequest`): replies 401/403 itself when the caller is not allowed. */
export type AuthHook = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/** Options of the {@link refreshRoutes} plugin, given by the gateway when it registers it. */
export interface RefreshRoutesOptions {
  readonly engine: RefreshEngine;
  readonly store: Store;
  /** Admin authentication for the `/v1/providers/:name/refresh*` routes. */
  readonly requireAdmin: AuthHook;
  /** Sandbox authentication for `credential-rejected`. */
  readonly requireSandbox: AuthHook;
  /** The authenticated sandbox's name (set by `requireSandbox`). */
  readonly sandboxOf: (request: FastifyRequest) => string | undefined;
  /** Builds the sandbox's current route bundle (the answer to `credential-rejected`). */
  readonly buildBundleFor: (sandbox: string) => Promise<RouteBundle>;
}

const nameParams = z.object({ name: z.string().min(1).max(253) });
const keyQuery = z.object({ credentialKey: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).optional() });
const rotateBody = z.strictObject({ credentialKey: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).optional() }).optional();
const rejectedParams = z.object({ route: z.string().min(1).max(253) });
const rejectedBody = z.strictObject({ fingerprint: z.string().min(1).max(256) });

/** A secret-free status text as a header value: printable ASCII only (others become `?`), at most 1 KiB. */
function headerText(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 1024);
}

function fail(reply: FastifyReply, code: RefreshErrorCode, message: string, extra?: Record<string, unknown>) {
  return reply.code(REFRESH_ERROR_CODES[code].status).send({ error: { code, message }, ...extra });
}

function parse<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = [where, ...(issue?.path ?? [])].map(String).join('.');
  throw new RefreshError('invalid_request', `${path}: ${issue?.message ?? 'invalid'}`);
}

function handleError(reply: FastifyReply, error: unknown) {
  if (error instanceof RefreshError || (RefreshError.isInstance(error) && error.name === 'RefreshError')) {
    return fail(reply, error.code as RefreshErrorCode, error.message);
  }
  if (StoreError.is(error, 'not_found')) return fail(reply, 'refresh_not_configured', error.message);
  throw error;
}

/** Maps a rotation that did not refresh to its error answer (or undefined when it is a success). */
function rotationError(outcome: RefreshOutcome): { code: RefreshErrorCode; message: string } | undefined {
  switch (outcome.result) {
    case 'refreshed':
    case 'waited':
      return outcome.status?.status === 'reauth_required'
        ? { code: 'reauth_required', message: outcome.status.lastError ?? 'the credential needs re-authorization' }
        : outcome.status?.status === 'error'
          ? { code: 'refresh_failed', message: outcome.status.lastError ?? 'the refresh failed' }
          : undefined;
    case 'reauth_required':
      return { code: 'reauth_required', message: outcome.message ?? outcome.status?.lastError ?? 'the credential needs re-authorization' };
    case 'not_configured':
      return { code: 'refresh_not_configured', message: outcome.message ?? 'no refresh is configured' };
    case 'skipped':
      return undefined;
    default:
      return { code: 'refresh_failed', message: outcome.message ?? outcome.status?.lastError ?? 'the refresh failed' };
  }
}

/**
 * The refresh API (DESIGN §4): `PUT/GET/DELETE /v1/providers/:name/refresh`,
 * `POST /v1/providers/:name/refresh/rotate` (admin) and `POST /v1/sandbox/routes/:route/credential-rejected`
 * (sandbox). No response ever carries refresh material or a token, except the bundle a sandbox's own
 * supervisor receives.
 */
export const refreshRoutes: FastifyPluginAsync<RefreshRoutesOptions> = async (app, opts) => {
  const { engine, store } = opts;
  const admin = { onRequest: opts.requireAdmin };

  app.put('/v1/providers/:name/refresh', admin, async (request, reply) => {
    try {
      const { name } = parse(nameParams, request.params, 'params');
      const body = parse(configureRefreshBodySchema, request.body ?? {}, 'body');
      return reply.code(200).send(await engine.configure(name, body));
    } catch (error) {
      return handleError(reply, error);
    }
  });

  app.get('/v1/providers/:name/refresh', admin, async (request, reply) => {
    try {
      const { name } = parse(nameParams, request.params, 'params');
      const { credentialKey } = parse(keyQuery, request.query, 'query');
      if ((await store.getProvider(name)) === undefined) return fail(reply, 'provider_not_found', `provider '${name}' does not exist`);
      const all = await engine.status(name);
      return reply.send({ credentials: credentialKey === undefined ? all : all.filter((s) => s.credentialKey === credentialKey) });
    } catch (error) {
      return handleError(reply, error);
    }
  });

  app.delete('/v1/providers/:name/refresh', admin, async (request, reply) => {
    try {
      const { name } = parse(nameParams, request.params, 'params');
      const { credentialKey } = parse(keyQuery, request.query, 'query');
      if ((await store.getProvider(name)) === undefined) return fail(reply, 'provider_not_found', `provider '${name}' does not exist`);
      const deleted = await engine.remove(name, credentialKey);
      if (!deleted) return fail(reply, 'refresh_not_configured', `provider '${name}' has no refresh configuration${credentialKey === undefined ? '' : ` for ${credentialKey}`}`);
      return reply.send({ deleted: true });
    } catch (error) {
      return handleError(reply, error);
    }
  });

  app.post('/v1/providers/:name/refresh/rotate', admin, async (request, reply) => {
    try {
      const { name } = parse(nameParams, request.params, 'params');
      const body = parse(rotateBody, request.body ?? undefined, 'body');
      if ((await store.getProvider(name)) === undefined) return fail(reply, 'provider_not_found', `provider '${name}' does not exist`);
      const outcome = await engine.rotateNow(name, body?.credentialKey);
      const error = rotationError(outcome);
      if (error !== undefined) return fail(reply, error.code, error.message, outcome.status === undefined ? undefined : { status: outcome.status });
      return reply.send(outcome.status);
    } catch (error) {
      return handleError(reply, error);
    }
  });

  app.post('/v1/sandbox/routes/:route/credential-rejected', { onRequest: opts.requireSandbox }, async (request, reply) => {
    try {
      const sandbox = opts.sandboxOf(request);
      if (sandbox === undefined) return fail(reply, 'forbidden', 'this endpoint needs a sandbox token');
      const { route } = parse(rejectedParams, request.params, 'params');
      const { fingerprint } = parse(rejectedBody, request.body ?? {}, 'body');
      const routeRec = await store.getRoute(route);
      if (routeRec === undefined) return fail(reply, 'route_not_found', `inference route '${route}' does not exist`);
      const sandboxRec = await store.getSandbox(sandbox);
      if (sandboxRec === undefined || !sandboxRec.providers.includes(routeRec.provider)) {
        return fail(reply, 'forbidden', `route '${route}' is not bound to sandbox '${sandbox}'`);
      }
      const key = await engine.keyForFingerprint(routeRec.provider, fingerprint);
      let result = 'not_current';
      let fix: string | undefined;
      if (key !== undefined) {
        const outcome = await engine.reportRejected({ provider: routeRec.provider, key, fingerprint });
        result = outcome.result;
        // Also when this report found the credential already given up on (another sandbox's report,
        // the scheduler): the supervisor then refuses with the fix instead of relaying the raw 401.
        if (outcome.status?.status === 'reauth_required') {
          result = 'reauth_required';
          fix = outcome.status.lastError ?? outcome.message;
        }
      }
      const bundle = await opts.buildBundleFor(sandbox);
      if (fix !== undefined) reply.header('openshell-refresh-message', headerText(fix));
      return reply.header('openshell-refresh-result', result).send(bundle);
    } catch (error) {
      return handleError(reply, error);
    }
  });
};
