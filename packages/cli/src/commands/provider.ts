import { type ApiProfile, type ApiProvider, providerJson } from '../api-types.js';
import { CliError, usageError } from '../cli-error.js';
import type { RunContext } from '../context.js';
import { parseConfigArgs, parseCredentialArgs, resolveCredentialValues } from '../credential-args.js';
import { formatTime, keyValueLines, renderTable } from '../format.js';
import { type GatewayClient, seg } from '../gateway-client.js';
import { readLine } from '../read-input.js';
import { type HarvestKind, harvestIntoExisting, harvestIntoNew } from './harvest.js';

/** The credential-source flags of `provider create|update`. */
export interface SourceOptions {
  credential?: string[];
  config?: string[];
  fromExisting?: boolean;
  fromClaudeLogin?: boolean;
  oauthLogin?: boolean;
  fromSetupToken?: boolean;
  verify?: boolean;
  model?: string;
}

type Source = 'credential' | 'from-existing' | HarvestKind;

/** Which source the flags select; throws a usage error for more than one. */
export function selectSource(opts: SourceOptions): Source | undefined {
  const chosen: Array<[Source, string]> = [];
  if (opts.credential && opts.credential.length > 0) chosen.push(['credential', '--credential']);
  if (opts.fromExisting) chosen.push(['from-existing', '--from-existing']);
  if (opts.fromClaudeLogin) chosen.push(['claude-login', '--from-claude-login']);
  if (opts.oauthLogin) chosen.push(['oauth-login', '--oauth-login']);
  if (opts.fromSetupToken) chosen.push(['setup-token', '--from-setup-token']);
  if (chosen.length > 1) {
    throw usageError(
      `${chosen.map(([, f]) => f).join(' and ')} cannot be combined: give exactly one credential source`,
      'Sources: --credential KEY[=VALUE], --from-existing, --from-claude-login, --oauth-login, --from-setup-token.',
    );
  }
  return chosen[0]?.[0];
}

function warnInline(ctx: RunContext, keys: readonly string[]): void {
  if (keys.length === 0) return;
  ctx.out.warn(
    `--credential ${keys.join(', ')}=VALUE put the value on the command line, where process lists and shell history can show it. ` +
      `Next time export ${keys.length === 1 ? 'it' : 'them'} and pass the bare key (--credential ${keys[0]}), or pipe the value on stdin.`,
  );
}

/** Reads the profile of a type from the gateway (404 → undefined). */
export async function fetchProfile(client: GatewayClient, type: string): Promise<ApiProfile | undefined> {
  return client.requestOptional<ApiProfile>('GET', `/v1/profiles/${seg(type.trim())}`);
}

/** `--from-existing`: the environment variables the profile's discovery names (credentials) that are set. */
export function discoverFromEnvironment(profile: ApiProfile, env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const found: Record<string, string> = {};
  const wanted = profile.discovery?.credentials ?? [];
  const names = wanted.length > 0 ? wanted : profile.credentials.map((c) => c.name);
  for (const name of names) {
    const cred = profile.credentials.find((c) => c.name === name || c.env_vars.includes(name));
    const vars = cred ? (cred.env_vars.includes(name) ? [name, ...cred.env_vars.filter((v) => v !== name)] : cred.env_vars) : [name];
    for (const v of vars) {
      const value = env[v];
      if (value !== undefined && value.trim() !== '') {
        found[v] = value;
        break;
      }
    }
  }
  return found;
}

async function credentialsFromFlags(ctx: RunContext, client: GatewayClient, type: string, source: Source | undefined, opts: SourceOptions): Promise<Record<string, string>> {
  if (source === 'credential') {
    const parsed = parseCredentialArgs(opts.credential ?? []);
    const { values, inline } = await resolveCredentialValues(parsed, ctx.env, (key) =>
      readLine(`the value of ${key}`, { secret: true, prompt: `Value for ${key}: `, input: ctx.stdin }),
    );
    warnInline(ctx, inline);
    return values;
  }
  if (source === 'from-existing') {
    const profile = await fetchProfile(client, type);
    if (!profile) {
      throw new CliError('profile_not_found', `the gateway has no provider profile for type '${type}', so --from-existing does not know what to look for`, {
        hint: 'List the types with `openshell provider profiles`, or pass --credential KEY instead.',
      });
    }
    const found = discoverFromEnvironment(profile, ctx.env);
    if (Object.keys(found).length === 0) {
      const vars = profile.credentials.flatMap((c) => c.env_vars);
      throw new CliError('nothing_discovered', `no existing credentials for '${profile.id}' were found in this environment`, {
        hint: `Set one of ${vars.join(', ') || '(none declared)'} and run the command again, or pass --credential KEY.`,
      });
    }
    ctx.out.info(`Found ${Object.keys(found).join(', ')} in the environment.`);
    return found;
  }
  return {};
}

/** `provider create`. */
export async function providerCreate(ctx: RunContext, opts: Record<string, unknown>): Promise<void> {
  const o = opts as unknown as SourceOptions & { name: string; type: string };
  const source = selectSource(o);
  if (source === undefined) {
    throw usageError(
      'provider create needs a credential source',
      'Give exactly one of --credential KEY[=VALUE], --from-existing, --from-claude-login, --oauth-login or --from-setup-token.',
    );
  }
  const config = parseConfigArgs(o.config ?? []);
  if (source === 'claude-login' || source === 'oauth-login' || source === 'setup-token') {
    await harvestIntoNew(ctx, await ctx.client(), {
      kind: source,
      name: o.name,
      type: o.type,
      config,
      verify: o.verify !== false,
      ...(o.model ? { model: o.model } : {}),
    });
    return;
  }
  const client = await ctx.client();
  const credentials = await credentialsFromFlags(ctx, client, o.type, source, o);
  const created = await client.request<ApiProvider>('POST', '/v1/providers', { name: o.name, type: o.type, credentials, config });
  if (ctx.out.format === 'json') ctx.out.json({ provider: providerJson(created) });
  else ctx.out.success(`Created provider ${created.name} (${created.type})`);
}

/** `provider list`. */
export async function providerList(ctx: RunContext): Promise<void> {
  const client = await ctx.client();
  const { providers } = await client.request<{ providers: ApiProvider[] }>('GET', '/v1/providers');
  if (ctx.out.format === 'json') {
    ctx.out.json({ providers: providers.map(providerJson) });
    return;
  }
  if (providers.length === 0) {
    ctx.out.line('No providers. Create one with `openshell provider create --name NAME --type TYPE ...`.');
    return;
  }
  const rows = providers.map((p) => {
    const j = providerJson(p);
    return [j.name, j.type, j.credentialKeys.join(', ') || '-', Object.keys(j.config).join(', ') || '-', formatTime(j.updatedAt)];
  });
  ctx.out.line(await renderTable(ctx.out, ['NAME', 'TYPE', 'CREDENTIALS', 'CONFIG', 'UPDATED'], rows));
}

/** Prints one provider in table mode. */
export function printProvider(ctx: RunContext, p: ApiProvider): void {
  const j = providerJson(p);
  const creds = j.credentialKeys.map((k) => {
    const exp = j.credentialExpiresAt[k];
    return `${k} (${j.fingerprints[k] ?? 'stored'}${exp ? `, expires ${formatTime(exp)}` : ''})`;
  });
  ctx.out.line(ctx.out.colors.bold(ctx.out.colors.cyan('Provider:')));
  ctx.out.line(
    keyValueLines(ctx.out, [
      ['Name', j.name],
      ['Type', j.type],
      ['Id', j.id],
      ['Credentials', creds.join('; ') || '<none>'],
      ['Config', Object.entries(j.config).map(([k, v]) => `${k}=${v}`).join(', ') || '<none>'],
      ['Resource version', String(j.resourceVersion)],
      ['Updated', formatTime(j.updatedAt)],
    ]),
  );
}

/** `provider get NAME`. */
export async function providerGet(ctx: RunContext, _opts: Record<string, unknown>, args: string[]): Promise<void> {
  const name = args[0] ?? '';
  const client = await ctx.client();
  const p = await client.request<ApiProvider>('GET', `/v1/providers/${seg(name)}`);
  if (ctx.out.format === 'json') ctx.out.json({ provider: providerJson(p) });
  else printProvider(ctx, p);
}

/** `provider update NAME`. */
export async function providerUpdate(ctx: RunContext, opts: Record<string, unknown>, args: string[]): Promise<void> {
  const o = opts as SourceOptions;
  const name = args[0] ?? '';
  const source = selectSource(o);
  const config = parseConfigArgs(o.config ?? []);
  const client = await ctx.client();
  if (source === 'claude-login' || source === 'oauth-login' || source === 'setup-token') {
    await harvestIntoExisting(ctx, client, { kind: source, name, config, verify: o.verify !== false, ...(o.model ? { model: o.model } : {}) });
    return;
  }
  if (source === undefined && Object.keys(config).length === 0) {
    throw usageError('provider update needs something to change', 'Pass --credential, --config, --from-existing, --from-claude-login, --oauth-login or --from-setup-token.');
  }
  const current = await client.request<ApiProvider>('GET', `/v1/providers/${seg(name)}`);
  const credentials = await credentialsFromFlags(ctx, client, current.type, source, o);
  const updated = await client.request<ApiProvider>('PATCH', `/v1/providers/${seg(name)}`, {
    resourceVersion: current.resourceVersion,
    ...(Object.keys(credentials).length > 0 ? { credentials } : {}),
    ...(Object.keys(config).length > 0 ? { config } : {}),
  });
  if (ctx.out.format === 'json') ctx.out.json({ provider: providerJson(updated) });
  else ctx.out.success(`Updated provider ${updated.name}`);
}

/** `provider delete NAME`. */
export async function providerDelete(ctx: RunContext, opts: Record<string, unknown>, args: string[]): Promise<void> {
  const name = args[0] ?? '';
  const client = await ctx.client();
  const force = opts.force === true;
  const result = await client.request<{ deleted: boolean; deletedRoutes?: string[]; unboundSandboxes?: string[] }>(
    'DELETE',
    `/v1/providers/${seg(name)}${force ? '?force=true' : ''}`,
  );
  if (ctx.out.format === 'json') {
    ctx.out.json({ deleted: true, name, deletedRoutes: result.deletedRoutes ?? [], unboundSandboxes: result.unboundSandboxes ?? [] });
    return;
  }
  ctx.out.success(`Deleted provider ${name}`);
  if (result.deletedRoutes && result.deletedRoutes.length > 0) ctx.out.info(`Deleted inference route(s): ${result.deletedRoutes.join(', ')}`);
  if (result.unboundSandboxes && result.unboundSandboxes.length > 0) ctx.out.info(`Unbound from sandbox(es): ${result.unboundSandboxes.join(', ')}`);
}

/** `provider profiles [ID]`. */
export async function providerProfiles(ctx: RunContext, _opts: Record<string, unknown>, args: string[]): Promise<void> {
  const client = await ctx.client();
  const id = args[0];
  if (id !== undefined) {
    const profile = await fetchProfile(client, id);
    if (!profile) throw new CliError('profile_not_found', `no provider profile '${id}'`, { hint: 'List them with `openshell provider profiles`.' });
    if (ctx.out.format === 'json') {
      ctx.out.json({ profile });
      return;
    }
    ctx.out.line(ctx.out.colors.bold(ctx.out.colors.cyan(`Profile ${profile.id}:`)));
    ctx.out.line(
      keyValueLines(ctx.out, [
        ['Name', profile.display_name ?? profile.id],
        ['Description', profile.description ?? ''],
        ['Category', profile.category ?? '-'],
        ['Inference', profile.inference_capable ? 'yes' : 'no'],
        ['Experimental', profile.experimental ? 'yes' : 'no'],
        ['Source', profile.source ?? '-'],
        [
          'Credentials',
          profile.credentials
            .map((c) => `${c.env_vars.join('|') || c.name}${c.injectable === false ? ' (boundary only)' : ''}${c.refresh ? ' (refreshable)' : ''}`)
            .join(', ') || '<none>',
        ],
      ]),
    );
    return;
  }
  const { profiles } = await client.request<{ profiles: ApiProfile[] }>('GET', '/v1/profiles');
  if (ctx.out.format === 'json') {
    ctx.out.json({ profiles });
    return;
  }
  const rows = profiles.map((p) => [
    p.id,
    p.category ?? '-',
    p.inference_capable ? 'yes' : 'no',
    p.credentials.flatMap((c) => c.env_vars).join(', ') || '-',
    `${p.source ?? ''}${p.experimental ? ' experimental' : ''}`.trim() || '-',
  ]);
  ctx.out.line(await renderTable(ctx.out, ['ID', 'CATEGORY', 'INFERENCE', 'CREDENTIALS', 'NOTES'], rows));
}
