import { type BundleRoute, bundleRouteSchema, inferenceProfileFor, Secret } from '@openshell/core';
import { buildUpstreamHeaders } from '@openshell/router/headers';
import { describe, expect, it } from 'vitest';
import { builtinProfiles } from './catalogue-loader.js';
import { GatewayError } from './errors.js';
import { buildRouteBundle } from './route-bundle.js';
import { type ProviderForRoute, resolveBundleRoute, selectCredential } from './route-resolution.js';

const NOW = 1_800_000_000_000;
const profiles = new Map(builtinProfiles().map((p) => [p.id, p]));
const ctx = { now: NOW, fingerprint: (v: string) => `fp-${v.length}` };

function provider(type: string, credentials: Record<string, string>, config: Record<string, string> = {}, expires: Record<string, number> = {}): ProviderForRoute {
  return {
    name: 'p',
    type,
    credentials: Object.fromEntries(Object.entries(credentials).map(([k, v]) => [k, new Secret(v)])),
    config,
    credentialExpiresAt: expires,
  };
}

function resolve(p: ProviderForRoute, model?: string): BundleRoute {
  const route = resolveBundleRoute({ name: 'inference.local', provider: p.name, model }, p, profiles.get(p.type), ctx);
  expect(bundleRouteSchema.safeParse(route).success).toBe(true);
  return route;
}

function unusable(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe('route_unusable');
    return (err as GatewayError).message;
  }
  throw new Error('expected route_unusable');
}

describe('selectCredential', () => {
  it('preferred-only never falls back to another key (a refresh token is never a bearer)', () => {
    const oauth = inferenceProfileFor('anthropic-oauth')!;
    expect(selectCredential(oauth, { REFRESH: new Secret('rt') })).toBeUndefined();
    const openai = inferenceProfileFor('openai')!;
    expect(selectCredential(openai, { B_KEY: new Secret('b'), A_KEY: new Secret(' ') })?.key).toBe('B_KEY');
    expect(selectCredential(openai, { OPENAI_API_KEY: new Secret('k'), A: new Secret('a') })?.key).toBe('OPENAI_API_KEY');
  });
});

describe('resolveBundleRoute', () => {
  it('anthropic-oauth: bearer, the oauth beta as a list-merged required header, Claude Code client env', () => {
    const r = resolve(provider('anthropic-oauth', { ANTHROPIC_OAUTH_TOKEN: 'tok' }), 'claude-sonnet-4-6');
    expect(r.auth).toEqual({ style: 'bearer', headerName: 'authorization', value: 'tok' });
    expect(r.headerPolicy.required).toEqual([{ name: 'anthropic-beta', value: 'oauth-2025-04-20', merge: 'list' }]);
    // The policy the bundle carries merges the client's betas with ours through the router.
    const out = buildUpstreamHeaders(['anthropic-beta', 'claude-code-20250219', 'x-api-key', 'sk-client', 'authorization', 'Bearer placeholder'], r);
    const pairs = Object.fromEntries(Array.from({ length: out.length / 2 }, (_, i) => [out[2 * i], out[2 * i + 1]]));
    expect(pairs['anthropic-beta']).toBe('claude-code-20250219,oauth-2025-04-20');
    expect(pairs.authorization).toBe('Bearer tok');
    expect(pairs['x-api-key']).toBeUndefined();
    expect(r.clientEnv.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC).toBe('1');
  });

  it('anthropic: x-api-key; base URL from config, trailing slash dropped; timeouts', () => {
    const r = resolveBundleRoute(
      { name: 'x', provider: 'p', timeoutSeconds: 30 },
      provider('anthropic', { ANTHROPIC_API_KEY: 'k' }, { ANTHROPIC_BASE_URL: 'http://127.0.0.1:9/v1/' }),
      profiles.get('anthropic'),
      ctx,
    );
    expect(r.auth).toEqual({ style: 'header', headerName: 'x-api-key', value: 'k' });
    expect(r.baseUrl).toBe('http://127.0.0.1:9/v1');
    expect(r.timeouts).toEqual({ connectMs: 10_000, firstByteMs: 30_000, idleMs: 300_000 });
  });

  it('carries expiry, fingerprint and refreshability', () => {
    const p = provider('anthropic-oauth', { ANTHROPIC_OAUTH_TOKEN: 'abc' }, {}, { ANTHROPIC_OAUTH_TOKEN: NOW + 1000 });
    const declared = resolveBundleRoute({ name: 'n', provider: 'p' }, p, profiles.get('anthropic-oauth'), ctx);
    expect(declared.credential).toEqual({ fingerprint: 'fp-3', expiresAt: NOW + 1000, refreshable: true });
    const configured = resolveBundleRoute({ name: 'n', provider: 'p' }, p, profiles.get('anthropic-oauth'), { ...ctx, isRefreshable: () => false });
    expect(configured.credential.refreshable).toBe(false);
  });

  it.each([
    ['no credential', provider('anthropic-oauth', {}), /needs ANTHROPIC_OAUTH_TOKEN \(no other key is accepted/],
    ['an expired credential', provider('openai', { OPENAI_API_KEY: 'k' }, {}, { OPENAI_API_KEY: NOW }), /expired at/],
    ['a non-inference type', provider('github', { GITHUB_TOKEN: 't' }), /no inference profile/],
    ['a bad base URL', provider('openai', { OPENAI_API_KEY: 'k' }, { OPENAI_BASE_URL: 'not a url' }), /not an absolute URL/],
    ['a non-http base URL', provider('openai', { OPENAI_API_KEY: 'k' }, { OPENAI_BASE_URL: 'ftp://x/y' }), /scheme/],
    ['an empty base URL', provider('aws-bedrock', {}), /BEDROCK_BASE_URL/],
  ])('refuses %s', (_case, p, message) => {
    expect(unusable(() => resolve(p))).toMatch(message);
  });

  it('aws-bedrock needs no credential', () => {
    const r = resolve(provider('aws-bedrock', {}, { BEDROCK_BASE_URL: 'http://127.0.0.1:9' }), 'anthropic.claude-3');
    expect(r.auth).toEqual({ style: 'none', value: '' });
    expect(r.credential).toEqual({ fingerprint: '', refreshable: false });
  });
});

describe('Vertex AI routes', () => {
  const config = { VERTEX_AI_PROJECT_ID: 'my-proj', VERTEX_AI_REGION: 'us-east5' };

  it('route Claude models to the Anthropic publisher rawPredict endpoint, model in path', () => {
    const r = resolve(provider('google-vertex-ai', { GOOGLE_VERTEX_AI_TOKEN: 'ya29' }, config), 'claude-sonnet-4-5@20250929');
    expect(r).toMatchObject({
      baseUrl: 'https://us-east5-aiplatform.googleapis.com/v1/projects/my-proj/locations/us-east5/publishers/anthropic/models',
      modelInPath: true,
      requestPathOverride: ':rawPredict',
      protocols: ['anthropic_messages'],
      auth: { style: 'bearer', value: 'ya29' },
    });
    const global = resolve(provider('google-vertex-ai', { GOOGLE_VERTEX_AI_TOKEN: 'ya29' }, { ...config, VERTEX_AI_REGION: 'global' }), 'claude-opus-4-1');
    expect(global.baseUrl.startsWith('https://aiplatform.googleapis.com/v1/projects/my-proj/locations/global/')).toBe(true);
  });

  it('never uses the service-account key as a bearer', () => {
    expect(unusable(() => resolve(provider('google-vertex-ai', { GOOGLE_SERVICE_ACCOUNT_KEY: '{"k":1}' }, config), 'claude-x'))).toMatch(/no usable credential/);
  });

  it.each([
    [{}, 'claude-x', /VERTEX_AI_PROJECT_ID and VERTEX_AI_REGION/],
    [{ ...config, VERTEX_AI_PROJECT_ID: 'Bad/../x' }, 'claude-x', /malformed/],
    [config, 'gemini-2.5-pro', /only Claude models/],
    [config, undefined, /only Claude models/],
    [{ ...config, VERTEX_AI_PUBLISHER: 'anthropic' }, undefined, /need a model/],
  ])('refuses %j with model %s', (cfg, model, message) => {
    expect(unusable(() => resolve(provider('google-vertex-ai', { GOOGLE_VERTEX_AI_TOKEN: 'ya29' }, cfg), model))).toMatch(message);
  });

  it('a base URL override is used as is', () => {
    const r = resolve(provider('google-vertex-ai', { VERTEX_AI_TOKEN: 'ya29' }, { VERTEX_AI_BASE_URL: 'http://127.0.0.1:9/v1' }), 'gemini');
    expect(r.baseUrl).toBe('http://127.0.0.1:9/v1');
    expect(r.modelInPath).toBeUndefined();
  });
});

describe('buildRouteBundle', () => {
  it('keeps only bound routes, skips unusable ones with a reason, sorts egress, hashes content', () => {
    const bound = [
      { ...provider('anthropic-oauth', { ANTHROPIC_OAUTH_TOKEN: 'tok' }), name: 'plan' },
      { ...provider('github', { GITHUB_TOKEN: 'gh' }), name: 'gh' },
    ];
    const input = {
      routes: [
        { name: 'inference.local', provider: 'plan' },
        { name: 'unbound', provider: 'other' },
        { name: 'broken', provider: 'gh' },
      ],
      boundProviders: bound,
      profileFor: (t: string) => profiles.get(t),
      ctx,
    };
    const { bundle, skipped } = buildRouteBundle(input);
    expect(bundle.routes.map((r) => r.name)).toEqual(['inference.local']);
    expect(skipped).toEqual([{ route: 'broken', provider: 'gh', reason: expect.stringMatching(/no inference profile/) }]);
    expect(bundle.egress).toEqual([
      { host: 'api.anthropic.com', port: 443 },
      { host: 'api.github.com', port: 443 },
      { host: 'github.com', port: 443 },
    ]);
    expect(buildRouteBundle(input).bundle.revision).toBe(bundle.revision);
    const rotated = buildRouteBundle({ ...input, boundProviders: [{ ...bound[0]!, credentials: { ANTHROPIC_OAUTH_TOKEN: new Secret('tok2') } }, bound[1]!] });
    expect(rotated.bundle.revision).not.toBe(bundle.revision);
  });
});
