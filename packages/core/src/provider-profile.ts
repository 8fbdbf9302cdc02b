import type { RequiredHeader } from './inference-profile.js';

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
  /** Lowercase header that carries the credential (required for `header` auth). */
  readonly header_name?: string;
  /** Query parameter that carries the credential (required for `query` auth). */
  readonly query_param?: string;
  /** URL path template with exactly one `{credential}` (required for `path` auth). */
  readonly path_template?: string;
  /** May the value sit in a sandboxed process's environment as it is? Default true. */
  readonly injectable: boolean;
  readonly refresh?: CredentialRefresh;
}

/** A network endpoint a provider's clients talk to (`host` may hold `*` wildcards within a label). */
export interface ProfileEndpoint {
  readonly host: string;
  readonly port: number;
  readonly protocol?: 'tcp' | 'rest' | 'websocket' | 'graphql' | 'sql' | 'json-rpc' | 'mcp';
}

/** Inference-contract constants a profile owns (kept in YAML so they change without a code change). */
export interface ProfileInference {
  /** Headers the boundary always sends for this type, with their merge rule. */
  readonly required_headers: readonly RequiredHeader[];
}

/** Category of a provider profile (upstream's enum, snake_case). */
export type ProfileCategory = 'inference' | 'agent' | 'source_control' | 'messaging' | 'data' | 'knowledge' | 'other';

/** A provider profile (YAML in `providers/`, or an admin's own via `--profiles-dir`). */
export interface ProviderProfile {
  readonly id: string;
  readonly display_name: string;
  readonly description: string;
  readonly category: ProfileCategory;
  readonly inference_capable: boolean;
  readonly experimental: boolean;
  readonly credentials: readonly ProfileCredential[];
  readonly discovery: { readonly credentials: readonly string[] };
  readonly endpoints: readonly ProfileEndpoint[];
  readonly binaries: readonly string[];
  /** Present only for profiles that carry inference-contract constants (e.g. `anthropic-oauth`). */
  readonly inference?: ProfileInference;
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
