import { z } from 'zod';
import { BUNDLE_MERGE_RULES } from './bundle.js';

/** Categories a provider profile may declare (upstream's enum). */
export const PROFILE_CATEGORIES = [
  'inference',
  'agent',
  'source_control',
  'messaging',
  'data',
  'knowledge',
  'other',
] as const;
/** Where a credential goes on the wire (metadata; the boundary applies inference auth itself). */
export const CREDENTIAL_AUTH_STYLES = ['basic', 'bearer', 'header', 'query', 'path'] as const;
/** Refresh strategies the gateway can run. */
export const REFRESH_STRATEGIES = ['oauth2_refresh_token'] as const;
/** Body encodings of a token request. */
export const REFRESH_REQUEST_ENCODINGS = ['json', 'form'] as const;
/** Endpoint protocols (upstream's set: `tcp` is L4, the rest are L7). */
export const ENDPOINT_PROTOCOLS = ['tcp', 'rest', 'websocket', 'graphql', 'sql', 'json-rpc', 'mcp'] as const;
/** Default lead time of a proactive refresh when a profile does not set one. */
export const DEFAULT_REFRESH_BEFORE_SECONDS = 300;

const nonBlank = (what: string) => z.string().regex(/\S/, `${what} must not be empty`);

const refreshSchema = z.strictObject({
  strategy: z.enum(REFRESH_STRATEGIES),
  token_urls: z.array(z.string()).min(1, 'token_urls must list at least one token endpoint URL'),
  authorize_url: z.string().optional(),
  redirect_uri: z.string().optional(),
  client_id: nonBlank('client_id').optional(),
  scopes: z.array(z.string()).default([]),
  request_encoding: z.enum(REFRESH_REQUEST_ENCODINGS).default('form'),
  user_agent: nonBlank('user_agent').optional(),
  refresh_before_seconds: z
    .number()
    .int()
    .min(0, 'refresh_before_seconds must be 0 or more (seconds before expiry to refresh)')
    .default(DEFAULT_REFRESH_BEFORE_SECONDS),
  max_lifetime_seconds: z.number().int().min(1, 'max_lifetime_seconds must be a positive number of seconds; omit it to trust expires_in').optional(),
});

const credentialSchema = z.strictObject({
  name: nonBlank('credential name'),
  description: z.string().optional(),
  env_vars: z.array(z.string()).min(1, 'a credential must list at least one env var (its credential key)'),
  required: z.boolean().default(false),
  auth_style: z.enum(CREDENTIAL_AUTH_STYLES).optional(),
  header_name: z.string().optional(),
  query_param: z.string().optional(),
  path_template: z.string().optional(),
  injectable: z.boolean().default(true),
  refresh: refreshSchema.optional(),
});

const endpointSchema = z.strictObject({
  host: nonBlank('endpoint host'),
  port: z
    .number()
    .int('port must be a whole number between 1 and 65535')
    .min(1, 'port must be between 1 and 65535')
    .max(65535, 'port must be between 1 and 65535'),
  protocol: z.enum(ENDPOINT_PROTOCOLS).optional(),
});

const requiredHeaderSchema = z.strictObject({
  name: z.string(),
  value: z.string(),
  merge: z.enum(BUNDLE_MERGE_RULES),
});

const inferenceSchema = z.strictObject({
  required_headers: z.array(requiredHeaderSchema).default([]),
});

const discoverySchema = z.strictObject({
  credentials: z.array(z.string()).default([]),
});

/**
 * zod schema of the SHAPE of a provider profile (YAML in `providers/`, or an admin's own): types,
 * required fields, enums, unknown fields, defaults. Cross-field rules (duplicates, URLs, ids, …) are
 * checked by `validateProviderProfile`, which also turns the output into a `ProviderProfile`.
 */
export const providerProfileSchema = z.strictObject({
  id: z.string(),
  display_name: nonBlank('display_name'),
  description: z.string().default(''),
  category: z.enum(PROFILE_CATEGORIES).default('other'),
  inference_capable: z.boolean().default(false),
  experimental: z.boolean().default(false),
  credentials: z.array(credentialSchema).default([]),
  discovery: discoverySchema.default({ credentials: [] }),
  endpoints: z.array(endpointSchema).default([]),
  binaries: z.array(z.string()).default([]),
  inference: inferenceSchema.optional(),
});

/** Output of {@link providerProfileSchema} (before cross-field validation). */
export type ProviderProfileShape = z.output<typeof providerProfileSchema>;

/** Field names allowed at a path of a profile (for "unknown field" messages). */
export function knownProfileFields(path: readonly PropertyKey[]): readonly string[] {
  const p = path.filter((s) => typeof s === 'string');
  const key = p.join('.');
  switch (key) {
    case '':
      return Object.keys(providerProfileSchema.shape);
    case 'credentials':
      return Object.keys(credentialSchema.shape);
    case 'credentials.refresh':
      return Object.keys(refreshSchema.shape);
    case 'endpoints':
      return Object.keys(endpointSchema.shape);
    case 'discovery':
      return Object.keys(discoverySchema.shape);
    case 'inference':
      return Object.keys(inferenceSchema.shape);
    case 'inference.required_headers':
      return Object.keys(requiredHeaderSchema.shape);
    default:
      return [];
  }
}
