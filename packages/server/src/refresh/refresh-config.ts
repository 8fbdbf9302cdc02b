import type { CredentialRefresh, ProviderProfile } from '@openshell/core';
import { z } from 'zod';
import { StoreError } from '../store/errors.js';
import type { ProviderRecord, RefreshMaterial, RefreshState, Store } from '../store/types.js';
import { RefreshError } from './refresh-error.js';
import { nextRefreshAt } from './retry-policy.js';
import { tokenUrlProblem } from './token-request.js';

/** Keys that belong to the profile, never to material (endpoint pinning, DESIGN §5). */
const PROFILE_OWNED_KEYS = ['token_url', 'token_uri', 'token_urls', 'scope', 'scopes', 'request_encoding', 'user_agent', 'tenant_id'];

const secretValue = z.string().trim().min(1).max(8192);

/** Body of `PUT /v1/providers/:name/refresh`. */
export const configureRefreshBodySchema = z.strictObject({
  credentialKey: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a valid environment variable name')
    .optional(),
  material: z
    .record(z.string(), z.unknown())
    .superRefine((material, ctx) => {
      for (const key of Object.keys(material)) {
        if (PROFILE_OWNED_KEYS.includes(key)) {
          ctx.addIssue({ code: 'custom', path: [key], message: `'${key}' comes from the provider profile and cannot be set in material` });
        } else if (!['refresh_token', 'client_id', 'client_secret'].includes(key)) {
          ctx.addIssue({ code: 'custom', path: [key], message: `unknown material key '${key}' (allowed: refresh_token, client_id, client_secret)` });
        }
      }
    })
    .pipe(
      z.strictObject({
        refresh_token: secretValue,
        client_id: z.string().trim().min(1).max(256).optional(),
        client_secret: secretValue.optional(),
      }),
    ),
  /** Expiry (epoch ms) of the access token the provider holds now. */
  expiresAt: z.number().int().nonnegative().optional(),
});

/** The validated body of `PUT /v1/providers/:name/refresh`. */
export type ConfigureRefreshBody = z.infer<typeof configureRefreshBodySchema>;

/** The credential key and refresh block a configure request applies to. */
export function refreshTarget(profile: ProviderProfile | undefined, providerName: string, requestedKey: string | undefined): { key: string; refresh: CredentialRefresh } {
  if (profile === undefined) {
    throw new RefreshError('invalid_request', `provider '${providerName}' has a type without a profile; only profile-declared credentials can be refreshed`);
  }
  const refreshable = profile.credentials.filter((c) => c.refresh !== undefined);
  if (refreshable.length === 0) {
    throw new RefreshError('invalid_request', `the profile '${profile.id}' of provider '${providerName}' declares no refreshable credential`);
  }
  if (requestedKey === undefined) {
    const first = refreshable[0]!;
    const key = first.env_vars[0];
    if (key === undefined) throw new RefreshError('invalid_request', `the profile '${profile.id}' declares a refresh block without env_vars`);
    return { key, refresh: first.refresh! };
  }
  const match = refreshable.find((c) => c.env_vars.includes(requestedKey));
  if (match === undefined) {
    const keys = refreshable.flatMap((c) => c.env_vars).join(', ');
    throw new RefreshError('invalid_request', `credentialKey '${requestedKey}' is not refreshable for profile '${profile.id}' (refreshable: ${keys})`);
  }
  return { key: requestedKey, refresh: match.refresh! };
}

/**
 * Configures (or reconfigures) refresh for a provider credential: validates against the profile,
 * records the access token's expiry when given, and schedules the first refresh from the stored
 * expiry (unknown expiry or no access token = due now, so it is minted).
 */
export async function configureRefresh(
  store: Store,
  profileFor: (type: string) => ProviderProfile | undefined,
  providerName: string,
  body: ConfigureRefreshBody,
): Promise<RefreshState> {
  let provider = await store.getProvider(providerName);
  if (provider === undefined) throw new RefreshError('provider_not_found', `provider '${providerName}' does not exist`);
  const { key, refresh } = refreshTarget(profileFor(provider.type), providerName, body.credentialKey);
  for (const url of refresh.token_urls) {
    const problem = tokenUrlProblem(url);
    if (problem !== undefined) throw new RefreshError('invalid_request', `the profile's token URL is refused: ${problem}`);
  }
  if (body.expiresAt !== undefined && provider.credentialExpiresAt[key] !== body.expiresAt) {
    provider = await setExpiry(store, provider, key, body.expiresAt);
  }
  const hasToken = (provider.credentials[key] ?? '').trim() !== '';
  const expiresAt = provider.credentialExpiresAt[key];
  const material: RefreshMaterial = {
    refresh_token: body.material.refresh_token,
    ...(body.material.client_id === undefined ? {} : { client_id: body.material.client_id }),
    ...(body.material.client_secret === undefined ? {} : { client_secret: body.material.client_secret }),
  };
  try {
    return await store.putRefreshConfig({
      provider: providerName,
      key,
      strategy: refresh.strategy,
      material,
      nextRefreshAt: hasToken ? nextRefreshAt(expiresAt, refresh.refresh_before_seconds) : 0,
    });
  } catch (error) {
    if (StoreError.is(error, 'not_found')) throw new RefreshError('provider_not_found', `provider '${providerName}' does not exist`);
    if (StoreError.is(error, 'conflict')) throw new RefreshError('resource_version_conflict', error.message);
    throw error;
  }
}

async function setExpiry(store: Store, provider: ProviderRecord, key: string, expiresAt: number): Promise<ProviderRecord> {
  let current = provider;
  for (let attempt = 0; attempt < 3; attempt++) {
    const credentialExpiresAt = { ...current.credentialExpiresAt };
    if (expiresAt > 0) credentialExpiresAt[key] = expiresAt;
    else delete credentialExpiresAt[key];
    try {
      return await store.updateProvider(current.name, { expectedResourceVersion: current.resourceVersion, credentialExpiresAt });
    } catch (error) {
      if (!StoreError.is(error, 'conflict')) throw error;
      const again = await store.getProvider(current.name);
      if (again === undefined) throw new RefreshError('provider_not_found', `provider '${current.name}' does not exist`);
      current = again;
    }
  }
  throw new RefreshError('resource_version_conflict', `provider '${provider.name}' kept changing while its expiry was being set; retry`);
}
