import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { sandboxPrincipal } from '../auth.js';
import { GatewayError } from '../errors.js';
import type { GatewayContext } from '../gateway-context.js';
import { sandboxBundle, sandboxEnvironment } from '../sandbox-resolution.js';
import type { StoreChange } from '../store/index.js';
import { parseRequest } from '../validation.js';
import { sandboxName } from './schemas.js';

const identityQuery = z.object({
  /** Optional: the sandbox the caller believes it is; a mismatch with the token is refused. */
  sandbox: sandboxName.optional(),
});

const bundleQuery = identityQuery.extend({
  revision: z.string().max(128).optional(),
  waitSeconds: z.coerce.number('must be a number of seconds').min(0, 'must be 0 or more').optional(),
});

function checkIdentity(claimed: string | undefined, actual: string): void {
  if (claimed !== undefined && claimed !== actual) {
    throw new GatewayError('forbidden', `this token belongs to sandbox '${actual}', not '${claimed}'; a sandbox can read only its own bundle and environment`);
  }
}

/**
 * Whether a change may affect a sandbox's bundle: its own record (bindings, deletion), any route,
 * or a provider (or its refresh state) bound to it.
 */
export function affectsSandbox(change: StoreChange, sandbox: string, boundProviders: ReadonlySet<string>): boolean {
  // A wildcard (e.g. after a Postgres listener reconnect, when changes may have been missed) wakes everyone.
  if (change.name === '*') return true;
  switch (change.kind) {
    case 'sandbox':
      return change.name === sandbox;
    case 'route':
      return true;
    case 'provider':
    case 'refresh':
      return boundProviders.has(change.name);
    default:
      return false;
  }
}

/** Endpoints for a sandbox's own supervisor (sandbox token): environment and route bundle (long-poll). */
export function registerSandboxApiRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  app.get('/v1/sandbox/environment', async (request) => {
    const { sandbox } = sandboxPrincipal(request);
    const q = parseRequest(identityQuery, request.query, 'query');
    checkIdentity(q.sandbox, sandbox.name);
    return sandboxEnvironment(ctx, sandbox.name);
  });

  app.get('/v1/sandbox/bundle', async (request, reply) => {
    const { sandbox } = sandboxPrincipal(request);
    const q = parseRequest(bundleQuery, request.query, 'query');
    checkIdentity(q.sandbox, sandbox.name);
    const waitMs = Math.min(q.waitSeconds ?? 0, ctx.maxWaitSeconds) * 1000;
    const deadline = Date.now() + waitMs;

    // The client going away or the gateway closing ends the wait early.
    const gone = new AbortController();
    const onClose = () => gone.abort();
    reply.raw.once('close', onClose);
    const onClosing = () => gone.abort();
    ctx.closing.addEventListener('abort', onClosing, { once: true });
    try {
      // Bounded: each pass waits for a change or the deadline; the pass count is a safety net.
      for (let pass = 0; pass < 10_000; pass++) {
        let bound = new Set(sandbox.providers);
        // Armed before reading, so a change between the read and the wait is not missed.
        const latch = ctx.hub.arm((c) => affectsSandbox(c, sandbox.name, bound));
        try {
          const current = await ctx.store.getSandbox(sandbox.name);
          if (current !== undefined) bound = new Set(current.providers);
          const bundle = await sandboxBundle(ctx, sandbox.name);
          const remaining = deadline - Date.now();
          if (q.revision === undefined || bundle.revision !== q.revision || remaining <= 0 || gone.signal.aborted) return bundle;
          const outcome = await latch.wait(remaining, gone.signal);
          if (outcome !== 'changed') return await sandboxBundle(ctx, sandbox.name);
        } finally {
          latch.dispose();
        }
      }
      return await sandboxBundle(ctx, sandbox.name);
    } finally {
      reply.raw.off('close', onClose);
      ctx.closing.removeEventListener('abort', onClosing);
    }
  });
}
