import type { ApiRefreshStatus } from '../api-types.js';
import { CliError, usageError } from '../cli-error.js';
import type { RunContext } from '../context.js';
import { formatRelative, formatTime, renderTable } from '../format.js';
import { GatewayApiError, seg } from '../gateway-client.js';
import { readLine } from '../read-input.js';

/** Parses `--expires-at`: epoch ms, epoch s, or an RFC 3339 time. */
export function parseExpiresAt(value: string): number {
  const t = value.trim();
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    return n < 1e11 ? n * 1000 : n;
  }
  const ms = Date.parse(t);
  if (Number.isNaN(ms)) throw usageError(`--expires-at '${value}' is not epoch milliseconds, epoch seconds or an RFC 3339 time`);
  return ms;
}

function statusRows(statuses: readonly ApiRefreshStatus[]): string[][] {
  return statuses.map((s) => [
    s.credentialKey,
    s.status,
    s.expiresAt ? `${formatTime(s.expiresAt)} (${formatRelative(s.expiresAt)})` : '-',
    s.nextRefreshAt ? formatRelative(s.nextRefreshAt) : '-',
    s.lastRefreshAt ? formatTime(s.lastRefreshAt) : '-',
    String(s.consecutiveFailures ?? 0),
    (s.lastError ?? '').slice(0, 80) || '-',
  ]);
}

/** `provider refresh status NAME`. */
export async function refreshStatus(ctx: RunContext, _opts: Record<string, unknown>, args: string[]): Promise<void> {
  const name = args[0] ?? '';
  const client = await ctx.client();
  const { credentials } = await client.request<{ credentials: ApiRefreshStatus[] }>('GET', `/v1/providers/${seg(name)}/refresh`);
  if (ctx.out.format === 'json') {
    ctx.out.json({ provider: name, credentials });
    return;
  }
  if (credentials.length === 0) {
    ctx.out.line(`Provider ${name} has no refresh configured.`);
    return;
  }
  ctx.out.line(await renderTable(ctx.out, ['CREDENTIAL', 'STATUS', 'EXPIRES', 'NEXT REFRESH', 'LAST REFRESH', 'FAILURES', 'LAST ERROR'], statusRows(credentials)));
  for (const s of credentials) {
    if (s.status === 'reauth_required') {
      ctx.out.warn(`${s.credentialKey} needs a new login: run \`openshell provider update ${name} --from-claude-login\` (after logging in with \`claude\`) or \`openshell provider update ${name} --oauth-login\`.`);
    }
  }
}

/** `provider refresh configure NAME`. */
export async function refreshConfigure(ctx: RunContext, opts: Record<string, unknown>, args: string[]): Promise<void> {
  const name = args[0] ?? '';
  const o = opts as { credentialKey?: string; refreshTokenEnv?: string; clientId?: string; clientSecretEnv?: string; expiresAt?: string };
  const fromEnv = (variable: string, what: string): string => {
    const v = ctx.env[variable];
    if (v === undefined || v.trim() === '') {
      throw new CliError('missing_env', `${what}: the environment variable ${variable} is not set or empty`, { hint: `Export ${variable} and run the command again.` });
    }
    return v.trim();
  };
  const refreshToken = o.refreshTokenEnv
    ? fromEnv(o.refreshTokenEnv, '--refresh-token-env')
    : await readLine('the refresh token', { secret: true, prompt: 'Refresh token: ', input: ctx.stdin });
  if (refreshToken === '') {
    throw new CliError('missing_refresh_token', 'no refresh token was given', { hint: 'Pipe it on stdin or pass --refresh-token-env VAR.' });
  }
  const material: Record<string, string> = { refresh_token: refreshToken };
  if (o.clientId) material.client_id = o.clientId;
  if (o.clientSecretEnv) material.client_secret = fromEnv(o.clientSecretEnv, '--client-secret-env');
  const client = await ctx.client();
  const status = await client.request<ApiRefreshStatus>('PUT', `/v1/providers/${seg(name)}/refresh`, {
    ...(o.credentialKey ? { credentialKey: o.credentialKey } : {}),
    material,
    ...(o.expiresAt ? { expiresAt: parseExpiresAt(o.expiresAt) } : {}),
  });
  if (ctx.out.format === 'json') ctx.out.json({ refresh: status });
  else ctx.out.success(`Configured refresh of ${status.credentialKey} for provider ${name} (${status.status})`);
}

/** `provider refresh rotate NAME`. */
export async function refreshRotate(ctx: RunContext, opts: Record<string, unknown>, args: string[]): Promise<void> {
  const name = args[0] ?? '';
  const key = typeof opts.credentialKey === 'string' ? opts.credentialKey : undefined;
  const client = await ctx.client();
  try {
    const status = await client.request<ApiRefreshStatus>('POST', `/v1/providers/${seg(name)}/refresh/rotate`, key ? { credentialKey: key } : {});
    if (ctx.out.format === 'json') ctx.out.json({ refresh: status });
    else ctx.out.success(`Rotated ${status.credentialKey} of provider ${name}; expires ${formatTime(status.expiresAt)}`);
  } catch (err) {
    if (err instanceof GatewayApiError && err.code === 'reauth_required') {
      throw new CliError('reauth_required', err.message, {
        hint: `Log in again: \`openshell provider update ${name} --from-claude-login\` (after \`claude\` login) or \`openshell provider update ${name} --oauth-login\`.`,
      });
    }
    throw err;
  }
}

/** `provider refresh delete NAME`. */
export async function refreshDelete(ctx: RunContext, _opts: Record<string, unknown>, args: string[]): Promise<void> {
  const name = args[0] ?? '';
  const client = await ctx.client();
  await client.request('DELETE', `/v1/providers/${seg(name)}/refresh`);
  if (ctx.out.format === 'json') ctx.out.json({ deleted: true, provider: name });
  else ctx.out.success(`Stopped refreshing provider ${name}; its current access token is served until it expires`);
}
