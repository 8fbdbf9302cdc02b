import type { ApiRoute } from '../api-types.js';
import { CliError, usageError } from '../cli-error.js';
import type { RunContext } from '../context.js';
import { formatTime, keyValueLines, renderTable } from '../format.js';
import { GatewayApiError, seg } from '../gateway-client.js';

/** The CLI's stable JSON shape of a route. */
function routeJson(r: ApiRoute): Record<string, unknown> {
  return {
    name: r.name,
    provider: r.provider,
    model: r.model ?? null,
    timeoutSeconds: r.timeoutSeconds ?? null,
    resourceVersion: r.resourceVersion ?? null,
    updatedAt: r.updatedAt ?? null,
  };
}

/** `inference set`. */
export async function inferenceSet(ctx: RunContext, opts: Record<string, unknown>): Promise<void> {
  const o = opts as { provider: string; model?: string; timeout?: string; verify?: boolean; route: string };
  let timeoutSeconds: number | undefined;
  if (o.timeout !== undefined) {
    timeoutSeconds = Number(o.timeout);
    if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1 || timeoutSeconds > 3600) {
      throw usageError(`--timeout '${o.timeout}' must be whole seconds between 1 and 3600`);
    }
  }
  const client = await ctx.client();
  const verify = o.verify !== false;
  const progress = verify ? await ctx.out.progress(`Verifying provider ${o.provider} with a probe request`) : undefined;
  let saved: ApiRoute & { verification?: Record<string, unknown> };
  try {
    saved = await client.request('PUT', `/v1/inference/routes/${seg(o.route)}`, {
      provider: o.provider,
      ...(o.model ? { model: o.model } : {}),
      ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
      verify,
    });
    progress?.succeed('Verified');
  } catch (err) {
    progress?.fail('Verification failed');
    if (err instanceof GatewayApiError && (err.code === 'verification_failed' || err.code === 'upstream_unreachable')) {
      throw new CliError(err.code, err.message.replace(/\bverify: false\b/g, '--no-verify'), {
        hint: `Nothing was saved. Fix the provider (\`openshell provider get ${o.provider}\`), or set the route without the probe using --no-verify.`,
      });
    }
    throw err;
  }
  const verification = saved.verification ?? { performed: false };
  if (ctx.out.format === 'json') {
    ctx.out.json({ route: routeJson(saved), verification });
    return;
  }
  ctx.out.success(`Route ${saved.name} → provider ${saved.provider}${saved.model ? `, model ${saved.model}` : ''}`);
  if (verification.performed) ctx.out.line(`  Verified: ${String(verification.method ?? '')} ${String(verification.url ?? '')} answered ${String(verification.status ?? '')}`);
  else ctx.out.line('  Verified: skipped (--no-verify)');
}

/** `inference get`. */
export async function inferenceGet(ctx: RunContext, opts: Record<string, unknown>): Promise<void> {
  const o = opts as { route: string; all?: boolean };
  const client = await ctx.client();
  if (o.all) {
    const { routes } = await client.request<{ routes: ApiRoute[] }>('GET', '/v1/inference/routes');
    if (ctx.out.format === 'json') {
      ctx.out.json({ routes: routes.map(routeJson) });
      return;
    }
    if (routes.length === 0) {
      ctx.out.line('No inference routes. Set one with `openshell inference set --provider NAME`.');
      return;
    }
    ctx.out.line(
      await renderTable(
        ctx.out,
        ['ROUTE', 'PROVIDER', 'MODEL', 'TIMEOUT', 'UPDATED'],
        routes.map((r) => [r.name, r.provider, r.model ?? '-', r.timeoutSeconds ? `${r.timeoutSeconds}s` : '-', formatTime(r.updatedAt)]),
      ),
    );
    return;
  }
  const r = await client.request<ApiRoute>('GET', `/v1/inference/routes/${seg(o.route)}`);
  if (ctx.out.format === 'json') {
    ctx.out.json({ route: routeJson(r) });
    return;
  }
  ctx.out.line(ctx.out.colors.bold(ctx.out.colors.cyan('Inference route:')));
  ctx.out.line(
    keyValueLines(ctx.out, [
      ['Route', r.name],
      ['Provider', r.provider],
      ['Model', r.model ?? '(client chooses)'],
      ['Timeout', r.timeoutSeconds ? `${r.timeoutSeconds}s` : 'default'],
      ['Updated', formatTime(r.updatedAt)],
    ]),
  );
}

/** `inference delete`. */
export async function inferenceDelete(ctx: RunContext, opts: Record<string, unknown>): Promise<void> {
  const route = String(opts.route);
  const client = await ctx.client();
  await client.request('DELETE', `/v1/inference/routes/${seg(route)}`);
  if (ctx.out.format === 'json') ctx.out.json({ deleted: true, route });
  else ctx.out.success(`Deleted inference route ${route}`);
}
