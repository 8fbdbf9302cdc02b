import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { writeAdminTokenFile } from '../admin-token-file.js';
import { GatewayError } from '../errors.js';
import type { GatewayContext } from '../gateway-context.js';
import type { GaugeFamily } from '../metrics.js';
import { ADMIN_TOKEN_PREFIX, generateToken, hashToken } from '../tokens.js';

/** This package's version (read once; the file sits one level above both src/ and dist/). */
const GATEWAY_VERSION: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
})();

/** Extra exposition text another component contributes to `/metrics` (e.g. the refresh engine). */
export type MetricsSource = () => Promise<string> | string;

/** Health, readiness, metrics and admin-token rotation. */
export function registerSystemRoutes(app: FastifyInstance, ctx: GatewayContext, extraMetrics: MetricsSource[]): void {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    if (ctx.closing.aborted) throw new GatewayError('shutting_down', 'the gateway is shutting down');
    try {
      await ctx.store.ping();
    } catch (err) {
      ctx.log.warn({ err }, 'readiness check: store unreachable');
      return reply.code(503).send({ error: { code: 'store_unavailable', message: 'the store did not answer; check the database' } });
    }
    return { status: 'ready', store: ctx.store.dialect };
  });

  app.get('/metrics', async (_request, reply) => {
    const [providers, sandboxes, routes, refresh] = await Promise.all([
      ctx.store.listProviders(),
      ctx.store.listSandboxes(),
      ctx.store.listRoutes(),
      ctx.store.listRefreshStates(),
    ]);
    const byType = new Map<string, number>();
    for (const p of providers) byType.set(p.type, (byType.get(p.type) ?? 0) + 1);
    const byStatus = new Map<string, number>([
      ['configured', 0],
      ['refreshed', 0],
      ['error', 0],
      ['reauth_required', 0],
    ]);
    for (const s of refresh) byStatus.set(s.status, (byStatus.get(s.status) ?? 0) + 1);
    const gauges: GaugeFamily[] = [
      {
        name: 'openshell_gateway_providers',
        help: 'Providers, by canonical type.',
        samples: [...byType].sort().map(([type, value]) => ({ labels: { type }, value })),
      },
      { name: 'openshell_gateway_sandboxes', help: 'Sandboxes.', samples: [{ value: sandboxes.length }] },
      { name: 'openshell_gateway_inference_routes', help: 'Inference routes.', samples: [{ value: routes.length }] },
      {
        name: 'openshell_gateway_refresh_credentials',
        help: 'Refreshed credentials, by refresh status.',
        samples: [...byStatus].map(([status, value]) => ({ labels: { status }, value })),
      },
      { name: 'openshell_gateway_bundle_waiters', help: 'Bundle long-polls waiting for a change.', samples: [{ value: ctx.hub.waiting }] },
    ];
    let text = ctx.metrics.render(gauges);
    for (const source of extraMetrics) {
      const extra = await source();
      if (extra.trim() !== '') text += extra.endsWith('\n') ? extra : `${extra}\n`;
    }
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(text);
  });

  /** What `openshell gateway status` shows: name, version, store, URL and refresh health. */
  app.get('/v1/gateway', async () => {
    const states = await ctx.store.listRefreshStates();
    const count = (status: string) => states.filter((s) => s.status === status).length;
    const url = ctx.url();
    return {
      name: ctx.name,
      version: GATEWAY_VERSION,
      store: ctx.store.dialect,
      ...(url === undefined ? {} : { url }),
      refresh: {
        total: states.length,
        healthy: count('configured') + count('refreshed'),
        error: count('error'),
        reauthRequired: count('reauth_required'),
      },
    };
  });

  /**
   * Rotates the admin token: the old one stops working at once (on every replica, through the
   * change feed); the new one is returned once and, on a gateway that manages a local token file,
   * written there (0600) too.
   */
  app.post('/v1/admin/token/rotate', async (request) => {
    const token = generateToken(ADMIN_TOKEN_PREFIX);
    ctx.registry.register(token);
    const hash = hashToken(token);
    await ctx.store.setAdminTokenHash(hash);
    ctx.adminTokens.set(hash);
    let tokenFile: string | undefined;
    if (ctx.configDir !== undefined) tokenFile = await writeAdminTokenFile(ctx.configDir, ctx.name, token);
    request.log.info({ tokenFile }, 'admin token rotated');
    return { token, ...(tokenFile === undefined ? {} : { tokenFile }) };
  });
}
