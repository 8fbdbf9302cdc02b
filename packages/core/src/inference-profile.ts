import { GENERATED_PROVIDER_PROFILES } from './catalogue.generated.js';

/** How a route authenticates to its upstream. */
export type AuthStyle = { type: 'bearer' } | { type: 'header'; header: string } | { type: 'none' };

/**
 * Merge rule of a required header. `list`: comma-separated token list, union with the client's tokens
 * (client order kept, required tokens appended, case-insensitive de-duplication, one line out).
 * `replace`: our value; the client's is dropped.
 */
export type MergeRule = 'list' | 'replace';

/** A header the boundary always sends, whatever the client did. */
export interface RequiredHeader {
  readonly name: string;
  readonly value: string;
  readonly merge: MergeRule;
}

/** Credential lookup mode: OAuth and Vertex are preferred-only so a refresh token is never sent. */
export type CredentialLookup = 'preferred-only' | 'preferred-then-any';

/** How the router talks to one provider type's upstream. */
export interface InferenceProfile {
  readonly providerType: string;
  readonly defaultBaseUrl: string;
  readonly protocols: readonly string[];
  readonly credentialKeyNames: readonly string[];
  readonly credentialLookup: CredentialLookup;
  readonly baseUrlConfigKeys: readonly string[];
  readonly auth: AuthStyle;
  /** Added only when the client did not send the header (lowercase names). */
  readonly defaultHeaders: Readonly<Record<string, string>>;
  /** Always present, merged per rule (lowercase names). */
  readonly requiredHeaders: readonly RequiredHeader[];
  /** Client headers allowed through (lowercase; may end in `*` for a prefix, e.g. `x-stainless-*`). */
  readonly passthroughHeaders: readonly string[];
  /** Non-secret client configuration a sandbox child needs for this route type. */
  readonly clientEnv: Readonly<Record<string, string>>;
}

/** Protocols of OpenAI-compatible providers. */
export const OPENAI_PROTOCOLS = [
  'openai_chat_completions',
  'openai_completions',
  'openai_responses',
  'openai_embeddings',
  'model_discovery',
] as const;
/** Protocols of Anthropic providers (API key and subscription OAuth). */
export const ANTHROPIC_PROTOCOLS = ['anthropic_messages', 'anthropic_count_tokens', 'model_discovery'] as const;

/** Headers Claude Code sends to identify itself; passed through so the upstream sees the genuine client. */
const CLAUDE_CODE_IDENTITY_HEADERS = [
  'x-app',
  'x-claude-code-session-id',
  'x-stainless-*',
  'anthropic-dangerous-direct-browser-access',
  'x-client-app',
] as const;

/**
 * Required headers recorded in a built-in YAML profile's `inference` block. Anthropic's subscription
 * contract (the `anthropic-beta: oauth-2025-04-20` flag) lives in providers/anthropic-oauth.yaml, not
 * in code; the inference-profile tests pin the resulting values.
 */
function yamlRequiredHeaders(profileId: string): readonly RequiredHeader[] {
  return GENERATED_PROVIDER_PROFILES.find((p) => p.id === profileId)?.inference?.required_headers ?? [];
}

/** The inference profile of every built-in provider type (DESIGN §3.1). */
export const BUILTIN_INFERENCE_PROFILES: readonly InferenceProfile[] = [
  {
    providerType: 'openai',
    defaultBaseUrl: 'https://api.openai.com/v1',
    protocols: OPENAI_PROTOCOLS,
    credentialKeyNames: ['OPENAI_API_KEY'],
    credentialLookup: 'preferred-then-any',
    baseUrlConfigKeys: ['OPENAI_BASE_URL'],
    auth: { type: 'bearer' },
    defaultHeaders: {},
    requiredHeaders: [],
    passthroughHeaders: ['openai-organization', 'x-model-id'],
    clientEnv: { OPENAI_BASE_URL: 'https://inference.local/v1', OPENAI_API_KEY: 'openshell-managed' },
  },
  {
    providerType: 'anthropic',
    defaultBaseUrl: 'https://api.anthropic.com/v1',
    protocols: ANTHROPIC_PROTOCOLS,
    credentialKeyNames: ['ANTHROPIC_API_KEY'],
    credentialLookup: 'preferred-then-any',
    baseUrlConfigKeys: ['ANTHROPIC_BASE_URL'],
    auth: { type: 'header', header: 'x-api-key' },
    defaultHeaders: { 'anthropic-version': '2023-06-01' },
    requiredHeaders: [],
    passthroughHeaders: ['anthropic-version', 'anthropic-beta', ...CLAUDE_CODE_IDENTITY_HEADERS],
    clientEnv: { ANTHROPIC_BASE_URL: 'https://inference.local', ANTHROPIC_API_KEY: 'openshell-managed' },
  },
  {
    providerType: 'anthropic-oauth',
    defaultBaseUrl: 'https://api.anthropic.com/v1',
    protocols: ANTHROPIC_PROTOCOLS,
    credentialKeyNames: ['ANTHROPIC_OAUTH_TOKEN'],
    credentialLookup: 'preferred-only',
    baseUrlConfigKeys: ['ANTHROPIC_OAUTH_BASE_URL', 'ANTHROPIC_BASE_URL'],
    auth: { type: 'bearer' },
    defaultHeaders: { 'anthropic-version': '2023-06-01' },
    requiredHeaders: yamlRequiredHeaders('anthropic-oauth'),
    passthroughHeaders: ['anthropic-version', 'anthropic-beta', ...CLAUDE_CODE_IDENTITY_HEADERS],
    clientEnv: {
      ANTHROPIC_BASE_URL: 'https://inference.local',
      // A placeholder, not a credential: it puts Claude Code in OAuth mode; the boundary swaps the bearer.
      CLAUDE_CODE_OAUTH_TOKEN: 'sk-ant-oat01-openshell-placeholder-not-a-credential',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    },
  },
  {
    providerType: 'nvidia',
    defaultBaseUrl: 'https://integrate.api.nvidia.com/v1',
    protocols: OPENAI_PROTOCOLS,
    credentialKeyNames: ['NVIDIA_API_KEY'],
    credentialLookup: 'preferred-then-any',
    baseUrlConfigKeys: ['NVIDIA_BASE_URL'],
    auth: { type: 'bearer' },
    defaultHeaders: {},
    requiredHeaders: [],
    passthroughHeaders: ['x-model-id'],
    clientEnv: { OPENAI_BASE_URL: 'https://inference.local/v1', OPENAI_API_KEY: 'openshell-managed' },
  },
  {
    providerType: 'deepinfra',
    defaultBaseUrl: 'https://api.deepinfra.com/v1/openai',
    protocols: OPENAI_PROTOCOLS,
    credentialKeyNames: ['DEEPINFRA_API_KEY'],
    credentialLookup: 'preferred-then-any',
    baseUrlConfigKeys: ['DEEPINFRA_BASE_URL'],
    auth: { type: 'bearer' },
    defaultHeaders: {},
    requiredHeaders: [],
    passthroughHeaders: ['x-model-id'],
    clientEnv: { OPENAI_BASE_URL: 'https://inference.local/v1', OPENAI_API_KEY: 'openshell-managed' },
  },
  {
    providerType: 'google-vertex-ai',
    defaultBaseUrl: '',
    protocols: ['anthropic_messages', 'model_discovery'],
    credentialKeyNames: [
      'GOOGLE_VERTEX_AI_SERVICE_ACCOUNT_TOKEN',
      'VERTEX_AI_SERVICE_ACCOUNT_TOKEN',
      'GOOGLE_VERTEX_AI_TOKEN',
      'VERTEX_AI_TOKEN',
    ],
    credentialLookup: 'preferred-only',
    baseUrlConfigKeys: ['GOOGLE_VERTEX_AI_BASE_URL', 'VERTEX_AI_BASE_URL'],
    auth: { type: 'bearer' },
    defaultHeaders: {},
    requiredHeaders: [],
    passthroughHeaders: [],
    clientEnv: {},
  },
  {
    providerType: 'aws-bedrock',
    defaultBaseUrl: '',
    protocols: ['aws_bedrock_invoke'],
    credentialKeyNames: [],
    credentialLookup: 'preferred-then-any',
    baseUrlConfigKeys: ['BEDROCK_BASE_URL'],
    auth: { type: 'none' },
    defaultHeaders: {},
    requiredHeaders: [],
    passthroughHeaders: [],
    clientEnv: {},
  },
];

const BY_TYPE = new Map(BUILTIN_INFERENCE_PROFILES.map((p) => [p.providerType, p]));

/** The inference profile of a canonical provider type, or undefined for non-inference types. */
export function inferenceProfileFor(canonicalType: string): InferenceProfile | undefined {
  return BY_TYPE.get(canonicalType);
}
