import type { ApiSandbox } from '../api-types.js';
import { usageError } from '../cli-error.js';
import type { RunContext } from '../context.js';
import { formatTime, keyValueLines, renderTable } from '../format.js';
import { seg } from '../gateway-client.js';

/** The CLI's stable JSON shape of a sandbox (never a token). */
export function sandboxJson(s: ApiSandbox): Record<string, unknown> {
  return { name: s.name, id: s.id ?? null, providers: [...s.providers], resourceVersion: s.resourceVersion ?? null, createdAt: s.createdAt ?? null, updatedAt: s.updatedAt ?? null };
}

/** `sandbox create`. The creation token the gateway returns is not printed: `sandbox run` issues its own. */
export async function sandboxCreate(ctx: RunContext, opts: Record<string, unknown>): Promise<void> {
  const o = opts as { name: string; provider?: string[] };
  const client = await ctx.client();
  const created = await client.request<ApiSandbox & { token?: string }>('POST', '/v1/sandboxes', { name: o.name, providers: o.provider ?? [] });
  const { token: _discarded, ...sandbox } = created;
  if (ctx.out.format === 'json') {
    ctx.out.json({ sandbox: sandboxJson(sandbox) });
    return;
  }
  ctx.out.success(`Created sandbox ${sandbox.name}${sandbox.providers.length > 0 ? ` bound to ${sandbox.providers.join(', ')}` : ''}`);
  ctx.out.info(`Run a command in it with \`openshell sandbox run ${sandbox.name} -- CMD\`.`);
}

/** `sandbox list`. */
export async function sandboxList(ctx: RunContext): Promise<void> {
  const client = await ctx.client();
  const { sandboxes } = await client.request<{ sandboxes: ApiSandbox[] }>('GET', '/v1/sandboxes');
  if (ctx.out.format === 'json') {
    ctx.out.json({ sandboxes: sandboxes.map(sandboxJson) });
    return;
  }
  if (sandboxes.length === 0) {
    ctx.out.line('No sandboxes. Create one with `openshell sandbox create --name NAME --provider PROVIDER`.');
    return;
  }
  ctx.out.line(await renderTable(ctx.out, ['NAME', 'PROVIDERS', 'UPDATED'], sandboxes.map((s) => [s.name, s.providers.join(', ') || '-', formatTime(s.updatedAt)])));
}

/** `sandbox get NAME`. */
export async function sandboxGet(ctx: RunContext, _opts: Record<string, unknown>, args: string[]): Promise<void> {
  const client = await ctx.client();
  const s = await client.request<ApiSandbox>('GET', `/v1/sandboxes/${seg(args[0] ?? '')}`);
  if (ctx.out.format === 'json') {
    ctx.out.json({ sandbox: sandboxJson(s) });
    return;
  }
  ctx.out.line(ctx.out.colors.bold(ctx.out.colors.cyan('Sandbox:')));
  ctx.out.line(
    keyValueLines(ctx.out, [
      ['Name', s.name],
      ['Providers', s.providers.join(', ') || '<none>'],
      ['Resource version', String(s.resourceVersion ?? '-')],
      ['Updated', formatTime(s.updatedAt)],
    ]),
  );
}

/** `sandbox update NAME --add-provider P --remove-provider Q`. */
export async function sandboxUpdate(ctx: RunContext, opts: Record<string, unknown>, args: string[]): Promise<void> {
  const o = opts as { addProvider?: string[]; removeProvider?: string[] };
  const name = args[0] ?? '';
  if (!o.addProvider?.length && !o.removeProvider?.length) {
    throw usageError('sandbox update needs --add-provider or --remove-provider');
  }
  const client = await ctx.client();
  const current = await client.request<ApiSandbox>('GET', `/v1/sandboxes/${seg(name)}`);
  const updated = await client.request<ApiSandbox>('PATCH', `/v1/sandboxes/${seg(name)}`, {
    resourceVersion: current.resourceVersion,
    ...(o.addProvider?.length ? { bind: o.addProvider } : {}),
    ...(o.removeProvider?.length ? { unbind: o.removeProvider } : {}),
  });
  if (ctx.out.format === 'json') ctx.out.json({ sandbox: sandboxJson(updated) });
  else ctx.out.success(`Sandbox ${updated.name} is bound to ${updated.providers.join(', ') || 'no providers'}`);
}

/** `sandbox delete NAME`. */
export async function sandboxDelete(ctx: RunContext, _opts: Record<string, unknown>, args: string[]): Promise<void> {
  const name = args[0] ?? '';
  const client = await ctx.client();
  await client.request('DELETE', `/v1/sandboxes/${seg(name)}`);
  if (ctx.out.format === 'json') ctx.out.json({ deleted: true, name });
  else ctx.out.success(`Deleted sandbox ${name}`);
}
