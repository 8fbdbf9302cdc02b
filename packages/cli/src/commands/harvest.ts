import { type ApiProfile, type ApiProfileCredential, type ApiProvider, type ApiRefreshStatus, providerJson } from '../api-types.js';
import { type ClaudeLoginResult, describeSource, readClaudeLogin } from '../claude-login.js';
import { CliError } from '../cli-error.js';
import type { RunContext } from '../context.js';
import { formatTime } from '../format.js';
import { GatewayApiError, type GatewayClient, seg } from '../gateway-client.js';
import { type Keychain, systemKeychain } from '../keychain.js';
import { exchangeAuthorizationCode } from '../oauth-exchange.js';
import { buildAuthorizeUrl, createPkceSession, parsePastedCode } from '../pkce.js';
import { readLine } from '../read-input.js';

/** The three ways to get a Claude subscription credential into the gateway. */
export type HarvestKind = 'claude-login' | 'oauth-login' | 'setup-token';

const FLAG: Record<HarvestKind, string> = {
  'claude-login': '--from-claude-login',
  'oauth-login': '--oauth-login',
  'setup-token': '--from-setup-token',
};

const SETUP_TOKEN_PREFIX = 'sk-ant-oat01-';

/** A credential obtained by a harvest, ready for the gateway. Values are secrets. */
interface Material {
  readonly accessToken: string;
  readonly refreshToken?: string;
  readonly expiresAt?: number;
  /** Where it came from, for the report (never a secret). */
  readonly source: Record<string, string>;
  readonly sourceText: string;
}

/** The shared-refresh-token warning, shown once after a `--from-claude-login`. */
export const OWNERSHIP_WARNING =
  "The gateway and this host's Claude Code login now share one rotating refresh token. Refresh tokens are single-use: " +
  'whichever side refreshes second (the gateway, or Claude Code on this host) is logged out and has to log in again. ' +
  'To give the gateway a credential of its own, use --oauth-login (a separate sign-in) or --from-setup-token (a long-lived token from `claude setup-token`).';

/** Options for a harvest. */
export interface HarvestOptions {
  readonly kind: HarvestKind;
  readonly name: string;
  readonly config: Record<string, string>;
  readonly verify: boolean;
  readonly model?: string;
  /** For tests and embedders: the keychain to read (default: the OS keychain, loaded lazily). */
  readonly keychain?: Keychain;
}

/** The profile credential a harvest writes: the one with an oauth2 refresh block, else the first. */
function harvestCredential(profile: ApiProfile, kind: HarvestKind): { credential: ApiProfileCredential; key: string } {
  const flag = FLAG[kind];
  const notSupported = (why: string) =>
    new CliError('harvest_not_supported', `${flag} is not supported for '${profile.id}' providers (${why})`, {
      hint: 'Use --type anthropic-oauth (alias claude-plan), or another source such as --credential.',
    });
  if ((kind === 'claude-login' || kind === 'setup-token') && profile.id !== 'anthropic-oauth') {
    throw notSupported('it reads a Claude subscription login, which only anthropic-oauth providers take');
  }
  const refreshable = profile.credentials.find((c) => c.refresh?.strategy === 'oauth2_refresh_token');
  const credential = kind === 'setup-token' ? (refreshable ?? profile.credentials[0]) : refreshable;
  if (!credential) throw notSupported('its profile declares no credential with oauth2_refresh_token refresh');
  const key = credential.env_vars[0];
  if (!key) throw notSupported(`profile credential '${credential.name}' declares no env_vars`);
  if (kind === 'oauth-login') {
    const r = credential.refresh;
    const missing = (['authorize_url', 'redirect_uri', 'client_id'] as const).filter((f) => !r?.[f]);
    if (missing.length > 0) throw notSupported(`its refresh block lacks ${missing.join(', ')}`);
  }
  return { credential, key };
}

async function loadProfile(client: GatewayClient, type: string, kind: HarvestKind): Promise<ApiProfile> {
  const profile = await client.requestOptional<ApiProfile>('GET', `/v1/profiles/${seg(type.trim())}`);
  if (!profile) {
    throw new CliError('profile_not_found', `the gateway knows no provider type '${type}'`, {
      hint: `${FLAG[kind]} needs --type anthropic-oauth (alias claude-plan). List the types with \`openshell provider profiles\`.`,
    });
  }
  return profile;
}

async function readClaudeMaterial(ctx: RunContext, keychain: Keychain | undefined): Promise<Material> {
  const found: ClaudeLoginResult = await readClaudeLogin({ env: ctx.env, keychain: keychain ?? systemKeychain() });
  const sourceText = describeSource(found.source);
  ctx.out.info(`Using the Claude Code login from ${sourceText}${found.login.subscriptionType ? ` (${found.login.subscriptionType} plan)` : ''}.`);
  const source: Record<string, string> =
    found.source.kind === 'keychain'
      ? { kind: 'keychain', service: found.source.service, account: found.source.account }
      : { kind: 'file', path: found.source.path };
  return {
    accessToken: found.login.accessToken,
    refreshToken: found.login.refreshToken,
    expiresAt: found.login.expiresAt,
    source,
    sourceText,
  };
}

async function readSetupToken(ctx: RunContext): Promise<Material> {
  const fromEnv = ctx.env.CLAUDE_CODE_OAUTH_TOKEN?.trim();
  const token = fromEnv
    ? fromEnv
    : await readLine('the setup token', { secret: true, prompt: 'Paste the token printed by `claude setup-token`: ', input: ctx.stdin });
  const where = fromEnv ? 'CLAUDE_CODE_OAUTH_TOKEN' : 'stdin';
  if (token === '') {
    throw new CliError('setup_token_missing', 'no setup token was given', {
      hint: 'Run `claude setup-token`, then pipe the token on stdin or set CLAUDE_CODE_OAUTH_TOKEN.',
    });
  }
  if (!token.startsWith(SETUP_TOKEN_PREFIX)) {
    const what = token.startsWith('sk-ant-ort01-')
      ? 'a refresh token, not an access token'
      : token.startsWith('sk-ant-api')
        ? 'an Anthropic API key (use --type anthropic --credential ANTHROPIC_API_KEY for it)'
        : `not a Claude OAuth token (expected the ${SETUP_TOKEN_PREFIX} prefix)`;
    throw new CliError('setup_token_invalid', `the token from ${where} is ${what}`, {
      hint: 'Run `claude setup-token` and pass the token it prints (it starts with sk-ant-oat01-).',
    });
  }
  ctx.out.info(`Using the setup token from ${where}.`);
  return { accessToken: token, source: { kind: 'setup-token', from: where }, sourceText: where };
}

async function runOAuthLogin(ctx: RunContext, credential: ApiProfileCredential): Promise<Material> {
  const r = credential.refresh;
  if (!r?.authorize_url || !r.redirect_uri || !r.client_id) {
    throw new CliError('harvest_not_supported', 'the profile has no authorize URL, redirect URI or client id for a login', {
      hint: 'Use --from-claude-login or --from-setup-token, or add authorize_url, redirect_uri and client_id to the profile\'s refresh block.',
    });
  }
  const session = createPkceSession();
  const url = buildAuthorizeUrl(
    { authorizeUrl: r.authorize_url, clientId: r.client_id, redirectUri: r.redirect_uri, scopes: r.scopes ?? [] },
    session,
  );
  ctx.out.info('Open this URL in a browser, sign in with the Claude account the gateway should use, and paste the code shown (code#state):');
  ctx.out.info('');
  ctx.out.info(`  ${url}`);
  ctx.out.info('');
  const pasted = await readLine('the authorization code', { secret: false, prompt: 'Code: ', input: ctx.stdin });
  const code = parsePastedCode(pasted, session.state);
  const progress = await ctx.out.progress('Exchanging the code for tokens');
  try {
    const tokens = await exchangeAuthorizationCode({
      tokenUrls: r.token_urls,
      clientId: r.client_id,
      redirectUri: r.redirect_uri,
      code,
      verifier: session.verifier,
      state: session.state,
      ...(r.user_agent ? { userAgent: r.user_agent } : {}),
    });
    progress.succeed('Signed in');
    return { ...tokens, source: { kind: 'oauth-login' }, sourceText: 'a new sign-in (--oauth-login)' };
  } catch (err) {
    progress.fail('Sign-in failed');
    throw err;
  }
}

async function gather(ctx: RunContext, kind: HarvestKind, credential: ApiProfileCredential, keychain: Keychain | undefined): Promise<Material> {
  switch (kind) {
    case 'claude-login':
      return readClaudeMaterial(ctx, keychain);
    case 'setup-token':
      return readSetupToken(ctx);
    case 'oauth-login':
      return runOAuthLogin(ctx, credential);
  }
}

/** Result of the post-store steps. */
interface Finish {
  refresh: ApiRefreshStatus | null;
  verification: Record<string, unknown>;
}

type Stage = 'configure refresh' | 'mint a fresh access token' | 'verify the credential';

class StageError extends Error {
  constructor(
    readonly stage: Stage,
    readonly inner: unknown,
  ) {
    super(stage);
  }
}

const EXPIRY_MARGIN_MS = 60_000;

/** Configure refresh, rotate only if the access token is already expired, then verify. */
async function finishSteps(ctx: RunContext, client: GatewayClient, name: string, key: string, m: Material, opts: HarvestOptions): Promise<Finish> {
  let refresh: ApiRefreshStatus | null = null;
  const path = `/v1/providers/${seg(name)}`;
  if (m.refreshToken !== undefined) {
    try {
      refresh = await client.request<ApiRefreshStatus>('PUT', `${path}/refresh`, {
        credentialKey: key,
        material: { refresh_token: m.refreshToken },
        ...(m.expiresAt !== undefined ? { expiresAt: m.expiresAt } : {}),
      });
    } catch (err) {
      throw new StageError('configure refresh', err);
    }
    if (m.expiresAt !== undefined && m.expiresAt <= Date.now() + EXPIRY_MARGIN_MS) {
      // An expired access token cannot be verified or served: minting one now is unavoidable.
      ctx.out.info(`The access token expired ${formatTime(m.expiresAt)}; the gateway is minting a fresh one with the refresh token.`);
      try {
        refresh = await client.request<ApiRefreshStatus>('POST', `${path}/refresh/rotate`, { credentialKey: key });
      } catch (err) {
        throw new StageError('mint a fresh access token', err);
      }
    }
  }
  let verification: Record<string, unknown> = { performed: false };
  if (opts.verify) {
    const progress = await ctx.out.progress('Verifying the credential with a probe request');
    try {
      const result = await client.request<Record<string, unknown>>('POST', `${path}/verify`, opts.model ? { model: opts.model } : {});
      progress.succeed('Verified');
      verification = { performed: true, ...pick(result, ['status', 'method', 'url', 'note']) };
    } catch (err) {
      progress.fail('Verification failed');
      throw new StageError('verify the credential', err);
    }
  }
  return { refresh, verification };
}

function pick(o: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const v = (typeof o.verification === 'object' && o.verification !== null ? o.verification : o) as Record<string, unknown>;
  return Object.fromEntries(keys.filter((k) => v[k] !== undefined).map((k) => [k, v[k]]));
}

/** The inner error's message, with the API's `verify: false` spelled as the CLI flag. */
function innerMessage(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\bverify: false\b/g, '--no-verify');
}

/** `provider create --from-claude-login | --oauth-login | --from-setup-token`, with rollback. */
export async function harvestIntoNew(ctx: RunContext, client: GatewayClient, opts: HarvestOptions & { type: string }): Promise<void> {
  const profile = await loadProfile(client, opts.type, opts.kind);
  const { credential, key } = harvestCredential(profile, opts.kind);
  if (opts.kind === 'oauth-login' && (await client.requestOptional('GET', `/v1/providers/${seg(opts.name)}`)) !== undefined) {
    throw new CliError('provider_exists', `provider '${opts.name}' already exists`, {
      hint: `Re-harvest into it with \`openshell provider update ${opts.name} --oauth-login\`, or choose another --name.`,
    });
  }
  const m = await gather(ctx, opts.kind, credential, opts.keychain);

  const created = await client.request<ApiProvider>('POST', '/v1/providers', {
    name: opts.name,
    type: profile.id,
    credentials: { [key]: m.accessToken },
    config: opts.config,
    ...(m.expiresAt !== undefined ? { credentialExpiresAt: { [key]: m.expiresAt } } : {}),
  });

  let finish: Finish;
  try {
    finish = await finishSteps(ctx, client, created.name, key, m, opts);
  } catch (err) {
    if (!(err instanceof StageError)) throw err;
    throw await rollback(ctx, client, created.name, err, opts.kind);
  }
  // Re-read for the fresh fingerprint and expiry (a rotation may have replaced the token); the provider is complete either way.
  const current = (await client.requestOptional<ApiProvider>('GET', `/v1/providers/${seg(created.name)}`).catch(() => undefined)) ?? created;
  report(ctx, 'Created', current, key, m, finish, opts.kind);
}

async function rollback(ctx: RunContext, client: GatewayClient, name: string, err: StageError, kind: HarvestKind): Promise<CliError> {
  const problem = `failed to ${err.stage} for provider '${name}': ${innerMessage(err.inner)}`;
  const innerHint = CliError.isInstance(err.inner) ? err.inner.hint : undefined;
  try {
    await client.request('DELETE', `/v1/providers/${seg(name)}?force=true`);
  } catch (delErr) {
    ctx.out.warn(`Failed to clean up provider '${name}' after the attempt to ${err.stage} failed: ${innerMessage(delErr)}`);
    return new CliError('harvest_failed', `${problem}. Cleanup also failed, so the provider may still exist.`, {
      hint: `Run \`openshell provider delete ${name} --force\` to remove it, then run the create command again.`,
    });
  }
  const retry = kind === 'claude-login' ? 'Fix the problem and run the command again (your Claude Code login was not changed).' : 'Fix the problem and run the command again.';
  return new CliError('harvest_failed', `${problem}. The provider was rolled back (deleted), so nothing was left behind.`, {
    hint: innerHint ? `${innerHint}\n${retry}` : retry,
  });
}

/** `provider update NAME --from-claude-login | --oauth-login | --from-setup-token`: the path out of reauth_required. */
export async function harvestIntoExisting(ctx: RunContext, client: GatewayClient, opts: HarvestOptions): Promise<void> {
  const current = await client.request<ApiProvider>('GET', `/v1/providers/${seg(opts.name)}`);
  const profile = await loadProfile(client, current.type, opts.kind);
  const { credential, key } = harvestCredential(profile, opts.kind);
  const m = await gather(ctx, opts.kind, credential, opts.keychain);
  const path = `/v1/providers/${seg(opts.name)}`;
  const updated = await client.request<ApiProvider>('PATCH', path, {
    resourceVersion: current.resourceVersion,
    credentials: { [key]: m.accessToken },
    credentialExpiresAt: { [key]: m.expiresAt ?? 0 },
    ...(Object.keys(opts.config).length > 0 ? { config: opts.config } : {}),
  });
  if (m.refreshToken === undefined) {
    // A static token replaces a refreshing one: stop refreshing the old lineage.
    try {
      await client.request('DELETE', `${path}/refresh`);
    } catch (err) {
      if (!(err instanceof GatewayApiError && (err.status === 404 || err.code === 'refresh_not_configured'))) throw err;
    }
  }
  let finish: Finish;
  try {
    finish = await finishSteps(ctx, client, opts.name, key, m, opts);
  } catch (err) {
    if (!(err instanceof StageError)) throw err;
    throw new CliError(
      'harvest_failed',
      `provider '${opts.name}' now holds the new access token, but the attempt to ${err.stage} failed: ${innerMessage(err.inner)}`,
      { hint: `Fix the problem, then run \`openshell provider update ${opts.name} ${FLAG[opts.kind]}\` again.` },
    );
  }
  const fresh = (await client.requestOptional<ApiProvider>('GET', path).catch(() => undefined)) ?? updated;
  report(ctx, 'Updated', fresh, key, m, finish, opts.kind);
}

function report(ctx: RunContext, verb: string, p: ApiProvider, key: string, m: Material, finish: Finish, kind: HarvestKind): void {
  const warnings = kind === 'claude-login' ? [OWNERSHIP_WARNING] : [];
  if (ctx.out.format === 'json') {
    ctx.out.json({
      provider: providerJson(p),
      credentialKey: key,
      source: m.source,
      refresh: finish.refresh,
      verification: finish.verification,
      warnings,
    });
  } else {
    ctx.out.success(`${verb} provider ${p.name} (${p.type}) from ${m.sourceText}`);
    const exp = p.credentialExpiresAt?.[key] ?? m.expiresAt;
    ctx.out.line(`  ${key}: ${p.fingerprints?.[key] ?? 'stored'}${exp ? `, expires ${formatTime(exp)}` : ', no expiry'}`);
    ctx.out.line(
      finish.refresh
        ? `  Refresh: ${finish.refresh.status}; the gateway refreshes it before it expires${finish.refresh.nextRefreshAt ? ` (next ${formatTime(finish.refresh.nextRefreshAt)})` : ''}`
        : '  Refresh: none (a static token; replace it before it expires)',
    );
    const v = finish.verification;
    ctx.out.line(v.performed ? `  Verified: ${String(v.method ?? 'probe')} ${String(v.url ?? '')} answered ${String(v.status ?? 'ok')}` : '  Verified: skipped (--no-verify)');
  }
  for (const w of warnings) ctx.out.warn(w);
}
