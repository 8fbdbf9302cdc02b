import { describe, expect, it } from 'vitest';
import { BUILTIN_INFERENCE_PROFILES, type InferenceProfile, inferenceProfileFor } from './index.js';

const OPENAI = ['openai_chat_completions', 'openai_completions', 'openai_responses', 'openai_embeddings', 'model_discovery'];
const ANTHROPIC = ['anthropic_messages', 'anthropic_count_tokens', 'model_discovery'];
const CLAUDE_CODE_IDENTITY = ['x-app', 'x-claude-code-session-id', 'x-stainless-*', 'anthropic-dangerous-direct-browser-access', 'x-client-app'];

// The values of record (upstream's table for six types, DESIGN §3.1 for anthropic-oauth), written out.
const EXPECTED: ReadonlyArray<Omit<InferenceProfile, 'clientEnv'>> = [
  {
    providerType: 'openai',
    defaultBaseUrl: 'https://api.openai.com/v1',
    protocols: OPENAI,
    credentialKeyNames: ['OPENAI_API_KEY'],
    credentialLookup: 'preferred-then-any',
    baseUrlConfigKeys: ['OPENAI_BASE_URL'],
    auth: { type: 'bearer' },
    defaultHeaders: {},
    requiredHeaders: [],
    passthroughHeaders: ['openai-organization', 'x-model-id'],
  },
  {
    providerType: 'anthropic',
    defaultBaseUrl: 'https://api.anthropic.com/v1',
    protocols: ANTHROPIC,
    credentialKeyNames: ['ANTHROPIC_API_KEY'],
    credentialLookup: 'preferred-then-any',
    baseUrlConfigKeys: ['ANTHROPIC_BASE_URL'],
    auth: { type: 'header', header: 'x-api-key' },
    defaultHeaders: { 'anthropic-version': '2023-06-01' },
    requiredHeaders: [],
    passthroughHeaders: ['anthropic-version', 'anthropic-beta', ...CLAUDE_CODE_IDENTITY],
  },
  {
    providerType: 'anthropic-oauth',
    defaultBaseUrl: 'https://api.anthropic.com/v1',
    protocols: ANTHROPIC,
    credentialKeyNames: ['ANTHROPIC_OAUTH_TOKEN'],
    credentialLookup: 'preferred-only',
    baseUrlConfigKeys: ['ANTHROPIC_OAUTH_BASE_URL', 'ANTHROPIC_BASE_URL'],
    auth: { type: 'bearer' },
    defaultHeaders: { 'anthropic-version': '2023-06-01' },
    requiredHeaders: [{ name: 'anthropic-beta', value: 'oauth-2025-04-20', merge: 'list' }],
    passthroughHeaders: ['anthropic-version', 'anthropic-beta', ...CLAUDE_CODE_IDENTITY],
  },
  {
    providerType: 'nvidia',
    defaultBaseUrl: 'https://integrate.api.nvidia.com/v1',
    protocols: OPENAI,
    credentialKeyNames: ['NVIDIA_API_KEY'],
    credentialLookup: 'preferred-then-any',
    baseUrlConfigKeys: ['NVIDIA_BASE_URL'],
    auth: { type: 'bearer' },
    defaultHeaders: {},
    requiredHeaders: [],
    passthroughHeaders: ['x-model-id'],
  },
  {
    providerType: 'deepinfra',
    defaultBaseUrl: 'https://api.deepinfra.com/v1/openai',
    protocols: OPENAI,
    credentialKeyNames: ['DEEPINFRA_API_KEY'],
    credentialLookup: 'preferred-then-any',
    baseUrlConfigKeys: ['DEEPINFRA_BASE_URL'],
    auth: { type: 'bearer' },
    defaultHeaders: {},
    requiredHeaders: [],
    passthroughHeaders: ['x-model-id'],
  },
  {
    providerType: 'google-vertex-ai',
    defaultBaseUrl: '',
    protocols: ['anthropic_messages', 'model_discovery'],
    credentialKeyNames: ['GOOGLE_VERTEX_AI_SERVICE_ACCOUNT_TOKEN', 'VERTEX_AI_SERVICE_ACCOUNT_TOKEN', 'GOOGLE_VERTEX_AI_TOKEN', 'VERTEX_AI_TOKEN'],
    credentialLookup: 'preferred-only',
    baseUrlConfigKeys: ['GOOGLE_VERTEX_AI_BASE_URL', 'VERTEX_AI_BASE_URL'],
    auth: { type: 'bearer' },
    defaultHeaders: {},
    requiredHeaders: [],
    passthroughHeaders: [],
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
  },
];

describe('built-in inference profiles', () => {
  it('are exactly the seven inference types', () => {
    expect(BUILTIN_INFERENCE_PROFILES.map((p) => p.providerType)).toEqual(EXPECTED.map((p) => p.providerType));
  });

  it.each(EXPECTED.map((e) => [e.providerType, e] as const))('%s has the values of record', (type, expected) => {
    const { clientEnv: _clientEnv, ...actual } = inferenceProfileFor(type)!;
    expect(actual).toEqual(expected);
  });

  it.each(BUILTIN_INFERENCE_PROFILES.map((p) => [p.providerType, p] as const))('%s never passes auth headers through and uses lowercase names', (_t, p) => {
    for (const h of p.passthroughHeaders) {
      expect(h).toBe(h.toLowerCase());
      expect(['authorization', 'x-api-key', 'proxy-authorization', 'host']).not.toContain(h);
    }
    for (const h of [...Object.keys(p.defaultHeaders), ...p.requiredHeaders.map((r) => r.name)]) expect(h).toBe(h.toLowerCase());
  });

  it('anthropic-oauth puts Claude Code in OAuth mode with a placeholder that is not a credential', () => {
    expect(inferenceProfileFor('anthropic-oauth')!.clientEnv).toEqual({
      ANTHROPIC_BASE_URL: 'https://inference.local',
      CLAUDE_CODE_OAUTH_TOKEN: 'sk-ant-oat01-openshell-placeholder-not-a-credential',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    });
    // Setting either of these would switch Claude Code out of OAuth mode.
    expect(Object.keys(inferenceProfileFor('anthropic-oauth')!.clientEnv)).not.toContain('ANTHROPIC_API_KEY');
    expect(Object.keys(inferenceProfileFor('anthropic-oauth')!.clientEnv)).not.toContain('ANTHROPIC_AUTH_TOKEN');
  });

  it.each([
    ['openai', { OPENAI_BASE_URL: 'https://inference.local/v1', OPENAI_API_KEY: 'openshell-managed' }],
    ['anthropic', { ANTHROPIC_BASE_URL: 'https://inference.local', ANTHROPIC_API_KEY: 'openshell-managed' }],
    ['nvidia', { OPENAI_BASE_URL: 'https://inference.local/v1', OPENAI_API_KEY: 'openshell-managed' }],
    ['deepinfra', { OPENAI_BASE_URL: 'https://inference.local/v1', OPENAI_API_KEY: 'openshell-managed' }],
    ['google-vertex-ai', {}],
    ['aws-bedrock', {}],
  ])('%s client environment', (type, env) => {
    expect(inferenceProfileFor(type)!.clientEnv).toEqual(env);
  });

  it.each([['github'], ['claude-code'], ['claude-plan'], ['OpenAI'], ['']])('has no inference profile for %j (canonical types only)', (type) => {
    expect(inferenceProfileFor(type)).toBeUndefined();
  });
});
