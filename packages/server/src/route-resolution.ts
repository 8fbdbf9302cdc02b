import {
  type BundleRoute,
  type InferenceProfile,
  inferenceProfileFor,
  type ProviderProfile,
  type Secret,
} from '@openshell/core';
import { GatewayError } from './errors.js';

/** Route timeouts when the route sets none (coord.md): connect 10 s, first byte 120 s, idle 300 s. */
export const DEFAULT_TIMEOUTS = { connectMs: 10_000, firstByteMs: 120_000, idleMs: 300_000 } as const;

/** The slice of an unsealed provider record that route resolution needs. */
export interface ProviderForRoute {
  readonly name: string;
  /** Canonical type. */
  readonly type: string;
  readonly credentials: Readonly<Record<string, Secret>>;
  readonly config: Readonly<Record<string, string>>;
  /** Epoch ms per credential key; absent = no expiry. */
  readonly credentialExpiresAt: Readonly<Record<string, number>>;
}

/** The stored part of an inference route. */
export interface RouteConfig {
  readonly name: string;
  readonly provider: string;
  readonly model?: string | undefined;
  readonly timeoutSeconds?: number | undefined;
}

/** Extra facts route resolution cannot derive from the records alone. */
export interface RouteResolutionContext {
  readonly now: number;
  readonly fingerprint: (value: string) => string;
  /** Whether the gateway refreshes this credential (refresh configured); defaults to the profile's refresh block. */
  readonly isRefreshable?: ((providerName: string, key: string) => boolean) | undefined;
  /** Why a credential cannot be refreshed (the refresh status's secret-free `lastError`), for expiry messages. */
  readonly refreshProblem?: ((providerName: string, key: string) => string | undefined) | undefined;
  /** Inference profile lookup; defaults to core's built-ins. */
  readonly inferenceProfile?: ((type: string) => InferenceProfile | undefined) | undefined;
}

/** The credential key and value a route would send, per the profile's lookup mode. */
export function selectCredential(
  profile: InferenceProfile,
  credentials: Readonly<Record<string, Secret>>,
): { key: string; value: Secret } | undefined {
  for (const key of profile.credentialKeyNames) {
    const value = credentials[key];
    if (value !== undefined && !value.isBlank()) return { key, value };
  }
  if (profile.credentialLookup === 'preferred-only') return undefined;
  for (const key of Object.keys(credentials).sort()) {
    const value = credentials[key];
    if (value !== undefined && !value.isBlank()) return { key, value };
  }
  return undefined;
}

function resolveBaseUrl(profile: InferenceProfile, config: Readonly<Record<string, string>>): string {
  for (const key of profile.baseUrlConfigKeys) {
    const v = config[key]?.trim();
    if (v !== undefined && v !== '') return v;
  }
  return profile.defaultBaseUrl.trim();
}

/** Config keys of a Vertex AI provider (upstream's names). */
export const VERTEX_CONFIG_KEYS = { project: 'VERTEX_AI_PROJECT_ID', region: 'VERTEX_AI_REGION', publisher: 'VERTEX_AI_PUBLISHER' } as const;

/**
 * Vertex AI without a base-URL override: Claude models through the Anthropic publisher's rawPredict
 * endpoint, model in the path (the router shapes the body and picks :streamRawPredict for streams).
 */
function vertexRoute(
  provider: ProviderForRoute,
  model: string | undefined,
): { baseUrl: string; modelInPath: true; requestPathOverride: string; protocols: string[] } {
  const project = provider.config[VERTEX_CONFIG_KEYS.project]?.trim() ?? '';
  const region = provider.config[VERTEX_CONFIG_KEYS.region]?.trim() ?? '';
  const missing = [project === '' ? VERTEX_CONFIG_KEYS.project : '', region === '' ? VERTEX_CONFIG_KEYS.region : ''].filter((k) => k !== '');
  if (missing.length > 0) {
    throw unusable(
      `provider '${provider.name}' (google-vertex-ai) needs the config ${missing.join(' and ')} (or a base URL in GOOGLE_VERTEX_AI_BASE_URL)`,
    );
  }
  if (!/^[a-z][a-z0-9-]{2,62}$/.test(project) || !/^[a-z0-9-]{1,40}$/.test(region)) {
    throw unusable(`provider '${provider.name}' has a malformed ${VERTEX_CONFIG_KEYS.project} or ${VERTEX_CONFIG_KEYS.region} (lowercase letters, digits and '-')`);
  }
  const publisher = provider.config[VERTEX_CONFIG_KEYS.publisher]?.trim() || (model?.startsWith('claude') ? 'anthropic' : '');
  if (publisher !== 'anthropic') {
    throw unusable(
      `provider '${provider.name}' (google-vertex-ai): without a base URL only Claude models (publisher anthropic) are routed; set a claude-* model on the route, or GOOGLE_VERTEX_AI_BASE_URL for another endpoint`,
    );
  }
  if (model === undefined || model === '') {
    throw unusable(`routes to Claude on Vertex AI (provider '${provider.name}') need a model: it is part of the URL`);
  }
  const host = region === 'global' ? 'aiplatform.googleapis.com' : `${region}-aiplatform.googleapis.com`;
  return {
    baseUrl: `https://${host}/v1/projects/${project}/locations/${region}/publishers/anthropic/models`,
    modelInPath: true,
    requestPathOverride: ':rawPredict',
    protocols: ['anthropic_messages'],
  };
}

function unusable(message: string, field?: string): GatewayError {
  return new GatewayError('route_unusable', message, field === undefined ? undefined : { field });
}

/**
 * Resolves an inference route to the bundle route a supervisor applies: base URL, auth, the full
 * header policy of the inference profile, credential fingerprint, expiry and client environment.
 * Throws `route_unusable` naming the problem (not an inference type, no usable or an expired
 * credential, empty or invalid base URL).
 */
export function resolveBundleRoute(
  route: RouteConfig,
  provider: ProviderForRoute,
  providerProfile: ProviderProfile | undefined,
  ctx: RouteResolutionContext,
): BundleRoute {
  const profile = (ctx.inferenceProfile ?? inferenceProfileFor)(provider.type);
  if (profile === undefined) {
    throw unusable(
      `provider '${provider.name}' has type '${provider.type}', which has no inference profile; inference routes need one of the inference provider types (see GET /v1/profiles, inference_capable)`,
    );
  }
  let baseUrl = resolveBaseUrl(profile, provider.config);
  const vertex = baseUrl === '' && provider.type === 'google-vertex-ai' ? vertexRoute(provider, route.model) : undefined;
  if (vertex !== undefined) baseUrl = vertex.baseUrl;
  if (baseUrl === '') {
    const keys = profile.baseUrlConfigKeys.join(' or ');
    throw unusable(`provider '${provider.name}' resolved to an empty base URL; set the config key ${keys}`);
  }
  let parsed: URL;
  try {
    parsed = new URL(baseUrl);
  } catch {
    throw unusable(`provider '${provider.name}' has base URL '${baseUrl}', which is not an absolute URL; fix its config`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw unusable(`provider '${provider.name}' has base URL '${baseUrl}' with scheme '${parsed.protocol}'; use https`);
  }

  let authValue = '';
  let credentialKey: string | undefined;
  if (profile.auth.type !== 'none') {
    const selected = selectCredential(profile, provider.credentials);
    if (selected === undefined) {
      const wanted = profile.credentialKeyNames.join(', ') || '(any)';
      throw unusable(
        `provider '${provider.name}' has no usable credential: it needs ${wanted}${profile.credentialLookup === 'preferred-only' ? ' (no other key is accepted for this type)' : ''}; add it with PATCH /v1/providers/${provider.name}`,
      );
    }
    const expiresAt = provider.credentialExpiresAt[selected.key];
    if (expiresAt !== undefined && expiresAt > 0 && expiresAt <= ctx.now) {
      const problem = ctx.refreshProblem?.(provider.name, selected.key);
      throw unusable(
        `the credential ${selected.key} of provider '${provider.name}' expired at ${new Date(expiresAt).toISOString()}; ${
          problem === undefined ? `rotate it (openshell provider refresh rotate ${provider.name}) or update it` : `its refresh needs attention: ${problem}`
        }`,
      );
    }
    credentialKey = selected.key;
    authValue = selected.value.reveal();
  }

  const expiresAt = credentialKey === undefined ? undefined : provider.credentialExpiresAt[credentialKey];
  const declaredRefresh =
    credentialKey !== undefined && providerProfile?.credentials.some((c) => c.env_vars.includes(credentialKey) && c.refresh !== undefined) === true;
  const refreshable =
    credentialKey === undefined ? false : (ctx.isRefreshable?.(provider.name, credentialKey) ?? declaredRefresh);

  const firstByteMs = route.timeoutSeconds !== undefined ? route.timeoutSeconds * 1000 : DEFAULT_TIMEOUTS.firstByteMs;
  const out: BundleRoute = {
    name: route.name,
    providerName: provider.name,
    providerType: provider.type,
    baseUrl: baseUrl.replace(/\/+$/, ''),
    protocols: vertex === undefined ? [...profile.protocols] : vertex.protocols,
    timeouts: { connectMs: DEFAULT_TIMEOUTS.connectMs, firstByteMs, idleMs: DEFAULT_TIMEOUTS.idleMs },
    auth:
      profile.auth.type === 'bearer'
        ? { style: 'bearer', headerName: 'authorization', value: authValue }
        : profile.auth.type === 'header'
          ? { style: 'header', headerName: profile.auth.header.toLowerCase(), value: authValue }
          : { style: 'none', value: '' },
    headerPolicy: {
      // The provider profile (YAML, possibly an admin's) is the value of record for required headers.
      required: (providerProfile?.inference?.required_headers ?? profile.requiredHeaders).map((h) => ({
        name: h.name.toLowerCase(),
        value: h.value,
        merge: h.merge,
      })),
      defaults: Object.fromEntries(Object.entries(profile.defaultHeaders).map(([k, v]) => [k.toLowerCase(), v])),
      passthrough: [...profile.passthroughHeaders],
    },
    credential: {
      fingerprint: authValue === '' ? '' : ctx.fingerprint(authValue),
      ...(expiresAt !== undefined && expiresAt > 0 ? { expiresAt } : {}),
      refreshable,
    },
    clientEnv: { ...profile.clientEnv },
  };
  if (route.model !== undefined && route.model !== '') out.model = route.model;
  if (vertex !== undefined) {
    out.modelInPath = vertex.modelInPath;
    out.requestPathOverride = vertex.requestPathOverride;
  }
  return out;
}
