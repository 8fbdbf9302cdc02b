import { type BundleRoute, bundleRouteSchema, inferenceProfileFor } from '@openshell/core';

/** A credential-shaped test token; never a real one. */
export const TEST_OAUTH_TOKEN = 'sk-ant-oat01-TEST-ONLY-0123456789abcdefghijklmnopqrstuvwxyz';
export const TEST_API_KEY = 'sk-test-openai-TEST-ONLY-abcdef0123456789';

/** The passthrough list of core's anthropic-oauth profile: Claude Code's identity headers. */
export const CLAUDE_CODE_PASSTHROUGH: readonly string[] = inferenceProfileFor('anthropic-oauth')?.passthroughHeaders ?? [];

type Overrides = Partial<BundleRoute>;

/** An `anthropic-oauth` route as the gateway would put it in a bundle (validated by the bundle schema). */
export function oauthRoute(baseUrl: string, overrides: Overrides = {}): BundleRoute {
  return bundleRouteSchema.parse({
    name: 'inference.local',
    providerName: 'claude-plan',
    providerType: 'anthropic-oauth',
    baseUrl,
    protocols: ['anthropic_messages', 'anthropic_count_tokens', 'model_discovery'],
    timeouts: { connectMs: 10_000, firstByteMs: 120_000, idleMs: 300_000 },
    auth: { style: 'bearer', headerName: 'authorization', value: TEST_OAUTH_TOKEN },
    headerPolicy: {
      required: [{ name: 'anthropic-beta', value: 'oauth-2025-04-20', merge: 'list' }],
      defaults: { 'anthropic-version': '2023-06-01' },
      passthrough: [...CLAUDE_CODE_PASSTHROUGH],
    },
    credential: { fingerprint: 'fp-oauth-1', refreshable: true },
    clientEnv: {},
    ...overrides,
  });
}

/** An `openai` route. */
export function openaiRoute(baseUrl: string, overrides: Overrides = {}): BundleRoute {
  return bundleRouteSchema.parse({
    name: 'inference.local',
    providerName: 'openai-prod',
    providerType: 'openai',
    baseUrl,
    protocols: ['openai_chat_completions', 'openai_completions', 'openai_responses', 'openai_embeddings', 'model_discovery'],
    timeouts: { connectMs: 10_000, firstByteMs: 120_000, idleMs: 300_000 },
    auth: { style: 'bearer', headerName: 'authorization', value: TEST_API_KEY },
    headerPolicy: { required: [], defaults: {}, passthrough: ['openai-organization', 'x-model-id', 'x-stainless-*'] },
    credential: { fingerprint: 'fp-openai-1', refreshable: false },
    clientEnv: {},
    ...overrides,
  });
}

/** An `anthropic` (API key) route: credential in `x-api-key`. */
export function anthropicKeyRoute(baseUrl: string, overrides: Overrides = {}): BundleRoute {
  return oauthRoute(baseUrl, {
    providerName: 'anthropic-key',
    providerType: 'anthropic',
    auth: { style: 'header', headerName: 'x-api-key', value: 'sk-ant-api03-TEST-ONLY-key' },
    headerPolicy: { required: [], defaults: { 'anthropic-version': '2023-06-01' }, passthrough: ['anthropic-version', 'anthropic-beta'] },
    credential: { fingerprint: 'fp-key-1', refreshable: false },
    ...overrides,
  });
}

/** Reads a header's lines (case-insensitive) out of a flat `[name, value, …]` list. */
export function linesOf(flat: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < flat.length; i += 2) if ((flat[i] as string).toLowerCase() === name) out.push(flat[i + 1] as string);
  return out;
}

/** Names of a flat header list, lowercased, in order. */
export function namesOf(flat: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < flat.length; i += 2) out.push((flat[i] as string).toLowerCase());
  return out;
}
