/** Refresh block of a credential (DESIGN §3.2, §5). Field names follow the YAML (snake_case). */
export interface CredentialRefresh {
  readonly strategy: 'oauth2_refresh_token';
  /** Ordered; tried in order on connection failure or 404 only. */
  readonly token_urls: readonly string[];
  readonly authorize_url?: string;
  readonly redirect_uri?: string;
  readonly client_id?: string;
  readonly scopes: readonly string[];
  readonly request_encoding: 'json' | 'form';
  readonly user_agent?: string;
  readonly refresh_before_seconds: number;
  readonly max_lifetime_seconds?: number;
}

/** One credential a provider profile declares. */
export interface ProfileCredential {
  readonly name: string;
  readonly description?: string;
  /** Env-var / credential-map keys, in priority order. */
  readonly env_vars: readonly string[];
  readonly required: boolean;
  readonly auth_style?: 'basic' | 'bearer' | 'header' | 'query' | 'path';
  readonly header_name?: string;
  /** May the value sit in a sandboxed process's environment as it is? Default true. */
  readonly injectable: boolean;
  readonly refresh?: CredentialRefresh;
}

export interface ProfileEndpoint {
  readonly host: string;
  readonly port: number;
  readonly protocol?: string;
}

/** A provider profile (YAML in `providers/`, or an admin's own via `--profiles-dir`). */
export interface ProviderProfile {
  readonly id: string;
  readonly display_name: string;
  readonly description: string;
  readonly category: string;
  readonly inference_capable: boolean;
  readonly experimental: boolean;
  readonly credentials: readonly ProfileCredential[];
  readonly discovery: { readonly credentials: readonly string[] };
  readonly endpoints: readonly ProfileEndpoint[];
  readonly binaries: readonly string[];
}

/** A set of provider profiles keyed by id. */
export type ProfileCatalogue = ReadonlyMap<string, ProviderProfile>;

/** The credential of `profile` that declares `key` among its env_vars, if any. */
export function findProfileCredential(profile: ProviderProfile | undefined, key: string): ProfileCredential | undefined {
  return profile?.credentials.find((c) => c.env_vars.includes(key));
}

/**
 * Whether a credential key may enter a sandbox's environment. Fail closed: a key the profile does not
 * declare, or a type without a profile, is not injectable.
 */
export function isInjectable(profile: ProviderProfile | undefined, key: string): boolean {
  return findProfileCredential(profile, key)?.injectable === true;
}
