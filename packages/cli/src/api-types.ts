// The gateway's API shapes as the CLI reads them (DESIGN §4). Responses never carry a secret value.

/** `GET /v1/providers/:name`. Credential values read `"REDACTED"`; fingerprints tell tokens apart. */
export interface ApiProvider {
  id: string;
  name: string;
  type: string;
  credentials: Record<string, string>;
  fingerprints?: Record<string, string>;
  config: Record<string, string>;
  credentialExpiresAt?: Record<string, number>;
  resourceVersion: number;
  createdAt?: number;
  updatedAt?: number;
}

/** Refresh status of one credential. */
export interface ApiRefreshStatus {
  provider: string;
  credentialKey: string;
  strategy: string;
  status: 'configured' | 'refreshed' | 'error' | 'reauth_required' | string;
  expiresAt?: number;
  lastRefreshAt?: number;
  nextRefreshAt?: number;
  consecutiveFailures?: number;
  lastError?: string;
}

/** One credential of a provider profile (snake_case as in the YAML). */
export interface ApiProfileCredential {
  name: string;
  env_vars: string[];
  required?: boolean;
  injectable?: boolean;
  refresh?: {
    strategy: string;
    token_urls: string[];
    authorize_url?: string;
    redirect_uri?: string;
    client_id?: string;
    scopes?: string[];
    user_agent?: string;
  };
}

/** `GET /v1/profiles/:id`. */
export interface ApiProfile {
  id: string;
  display_name?: string;
  description?: string;
  category?: string;
  inference_capable?: boolean;
  experimental?: boolean;
  source?: string;
  credentials: ApiProfileCredential[];
  discovery?: { credentials?: string[] };
  routing?: { credentialKeyNames?: string[]; baseUrlConfigKeys?: string[]; defaultBaseUrl?: string };
}

/** An inference route. */
export interface ApiRoute {
  name: string;
  provider: string;
  model?: string;
  timeoutSeconds?: number;
  resourceVersion?: number;
  createdAt?: number;
  updatedAt?: number;
  [extra: string]: unknown;
}

/** A sandbox (never its tokens). */
export interface ApiSandbox {
  id?: string;
  name: string;
  providers: string[];
  resourceVersion?: number;
  createdAt?: number;
  updatedAt?: number;
}

/** The CLI's stable JSON shape of a provider (`--output json`). */
export interface ProviderJson {
  id: string;
  name: string;
  type: string;
  credentialKeys: string[];
  fingerprints: Record<string, string>;
  credentialExpiresAt: Record<string, number>;
  config: Record<string, string>;
  resourceVersion: number;
  createdAt: number | null;
  updatedAt: number | null;
}

/** Maps the API view to the CLI's JSON shape (keys and fingerprints only). */
export function providerJson(p: ApiProvider): ProviderJson {
  return {
    id: p.id,
    name: p.name,
    type: p.type,
    credentialKeys: Object.keys(p.credentials ?? {}).sort(),
    fingerprints: { ...(p.fingerprints ?? {}) },
    credentialExpiresAt: { ...(p.credentialExpiresAt ?? {}) },
    config: { ...(p.config ?? {}) },
    resourceVersion: p.resourceVersion,
    createdAt: p.createdAt ?? null,
    updatedAt: p.updatedAt ?? null,
  };
}
