import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BUILTIN_INFERENCE_PROFILES,
  BUILTIN_PROVIDER_PROFILES,
  builtinCatalogue,
  catalogueTypes,
  findProfileCredential,
  inferenceProfileFor,
  isInjectable,
  KNOWN_PROVIDER_TYPES,
  mergeProfileCatalogues,
  normalizeProviderType,
  type ProviderProfile,
} from './index.js';
import { parseProviderProfileYamlFiles } from './yaml/index.js';

const CORE_DIR = join(import.meta.dirname, '..');
const PROVIDERS_DIR = join(CORE_DIR, '../../providers');
const SCRIPT = join(CORE_DIR, 'scripts/build-catalogue.mjs');
const GENERATED = join(CORE_DIR, 'src/catalogue.generated.ts');

const yamlFiles = readdirSync(PROVIDERS_DIR)
  .filter((f) => f.endsWith('.yaml'))
  .sort();
const temps: string[] = [];
afterAll(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

/** A copy of providers/ and of the generated file in a temp dir, to run the script against. */
function sandboxCopy(): { dir: string; providers: string; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'core-catalogue-'));
  temps.push(dir);
  const providers = join(dir, 'providers');
  execFileSync('mkdir', [providers]);
  for (const f of yamlFiles) copyFileSync(join(PROVIDERS_DIR, f), join(providers, f));
  const out = join(dir, 'catalogue.generated.ts');
  copyFileSync(GENERATED, out);
  return { dir, providers, out };
}

function runScript(...args: string[]) {
  return spawnSync(process.execPath, [SCRIPT, ...args], { cwd: CORE_DIR, encoding: 'utf8', timeout: 60_000 });
}

describe('build-time catalogue', () => {
  it('the committed catalogue.generated.ts is up to date with providers/*.yaml', () => {
    const r = runScript('--check');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`${yamlFiles.length} profiles`);
  });

  it('--check fails, without writing, when a YAML profile changed', () => {
    const { providers, out } = sandboxCopy();
    const file = join(providers, 'github.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('display_name: GitHub', 'display_name: GitHub Enterprise'));
    const before = readFileSync(out, 'utf8');
    const r = runScript('--check', '--providers-dir', providers, '--out', out);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('is stale');
    expect(readFileSync(out, 'utf8')).toBe(before);
    // Without --check the script regenerates it.
    const w = runScript('--providers-dir', providers, '--out', out);
    expect(w.status).toBe(0);
    expect(readFileSync(out, 'utf8')).toContain('"display_name": "GitHub Enterprise"');
  });

  it('fails the build listing every problem of an invalid profile with file and line', () => {
    const { providers, out } = sandboxCopy();
    const file = join(providers, 'openai.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('port: 443', 'port: 0').replace('auth_style: bearer', 'auth_style: cookie'));
    const r = runScript('--providers-dir', providers, '--out', out);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('2 problem(s)');
    expect(r.stderr).toMatch(/openai\.yaml:\d+: credentials\[0\]\.auth_style: unknown auth_style "cookie"/);
    expect(r.stderr).toMatch(/openai\.yaml:\d+: endpoints\[0\]\.port: port must be between 1 and 65535/);
  });

  it('holds exactly the profiles the YAML files define, with the same values', () => {
    const fromYaml = parseProviderProfileYamlFiles(
      yamlFiles.map((f) => ({ name: f, text: readFileSync(join(PROVIDERS_DIR, f), 'utf8') })),
    );
    expect(BUILTIN_PROVIDER_PROFILES).toEqual(fromYaml);
    expect([...builtinCatalogue().keys()].sort()).toEqual(yamlFiles.map((f) => f.replace(/\.yaml$/, '')).sort());
  });

  it('is frozen', () => {
    const p = builtinCatalogue().get('github')!;
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.isFrozen(p.credentials[0]!.env_vars)).toBe(true);
  });

  it('has a profile for every built-in inference type, plus anthropic-oauth, claude-code and github', () => {
    const ids = new Set(builtinCatalogue().keys());
    for (const p of BUILTIN_INFERENCE_PROFILES) expect(ids, p.providerType).toContain(p.providerType);
    for (const id of ['anthropic-oauth', 'claude-code', 'github']) expect(ids).toContain(id);
  });

  it('uses only known provider types as ids (so normalization accepts them)', () => {
    for (const id of builtinCatalogue().keys()) expect(KNOWN_PROVIDER_TYPES).toContain(id);
  });
});

describe('built-in profiles agree with the inference profiles', () => {
  it.each(BUILTIN_INFERENCE_PROFILES.map((p) => [p.providerType, p] as const))(
    '%s declares every credential key the router looks up, none injectable',
    (type, inference) => {
      const profile = builtinCatalogue().get(type);
      expect(profile?.inference_capable).toBe(true);
      expect(profile?.category).toBe('inference');
      for (const key of inference.credentialKeyNames) {
        expect(findProfileCredential(profile, key), key).toBeDefined();
        expect(isInjectable(profile, key), key).toBe(false);
      }
    },
  );

  it.each(BUILTIN_PROVIDER_PROFILES.map((p) => [p.id, p] as const))(
    '%s: required headers in YAML equal the inference profile requiredHeaders',
    (id, profile: ProviderProfile) => {
      const inference = inferenceProfileFor(id);
      expect(profile.inference?.required_headers ?? []).toEqual(inference?.requiredHeaders ?? []);
    },
  );
});

describe('injectability of built-in credentials', () => {
  // Inference keys are used only at the boundary; tool credentials may sit in a sandbox's environment.
  it.each([
    ['openai', 'OPENAI_API_KEY', false],
    ['anthropic', 'ANTHROPIC_API_KEY', false],
    ['anthropic-oauth', 'ANTHROPIC_OAUTH_TOKEN', false],
    ['nvidia', 'NVIDIA_API_KEY', false],
    ['deepinfra', 'DEEPINFRA_API_KEY', false],
    ['google-vertex-ai', 'GOOGLE_SERVICE_ACCOUNT_KEY', false],
    ['google-vertex-ai', 'GOOGLE_VERTEX_AI_SERVICE_ACCOUNT_TOKEN', false],
    ['google-vertex-ai', 'VERTEX_AI_SERVICE_ACCOUNT_TOKEN', false],
    ['google-vertex-ai', 'GOOGLE_VERTEX_AI_TOKEN', false],
    ['google-vertex-ai', 'VERTEX_AI_TOKEN', false],
    ['aws-bedrock', 'AWS_ACCESS_KEY_ID', false],
    ['aws-bedrock', 'AWS_SECRET_ACCESS_KEY', false],
    ['aws-bedrock', 'AWS_SESSION_TOKEN', false],
    ['claude-code', 'ANTHROPIC_API_KEY', true],
    ['claude-code', 'CLAUDE_API_KEY', true],
    ['github', 'GITHUB_TOKEN', true],
    ['github', 'GH_TOKEN', true],
    ['github', 'SOME_OTHER_KEY', false],
    ['codex', 'CODEX_AUTH_ACCESS_TOKEN', false],
  ] as const)('%s %s injectable=%s', (type, key, injectable) => {
    expect(isInjectable(builtinCatalogue().get(type), key)).toBe(injectable);
  });
});

describe('anthropic-oauth.yaml (the Anthropic contract constants)', () => {
  const profile = builtinCatalogue().get('anthropic-oauth')!;
  const credential = findProfileCredential(profile, 'ANTHROPIC_OAUTH_TOKEN')!;

  it('is experimental, inference-capable and reaches api.anthropic.com:443', () => {
    expect(profile.experimental).toBe(true);
    expect(profile.inference_capable).toBe(true);
    expect(profile.endpoints).toEqual([{ host: 'api.anthropic.com', port: 443, protocol: 'rest' }]);
  });

  it('declares ANTHROPIC_OAUTH_TOKEN as a required, non-injectable bearer credential', () => {
    expect(credential).toMatchObject({
      env_vars: ['ANTHROPIC_OAUTH_TOKEN'],
      required: true,
      injectable: false,
      auth_style: 'bearer',
    });
  });

  it('carries the refresh contract of Claude Code', () => {
    expect(credential.refresh).toEqual({
      strategy: 'oauth2_refresh_token',
      token_urls: [
        'https://platform.claude.com/v1/oauth/token',
        'https://console.anthropic.com/v1/oauth/token',
        'https://api.anthropic.com/v1/oauth/token',
      ],
      authorize_url: 'https://claude.com/cai/oauth/authorize',
      redirect_uri: 'https://platform.claude.com/oauth/code/callback',
      client_id: '9d1c250a-e61b-44d9-88ed-5944d1962f5e',
      scopes: ['user:profile', 'user:inference', 'user:sessions:claude_code', 'user:mcp_servers', 'user:file_upload'],
      request_encoding: 'json',
      user_agent: 'axios/1.15.2',
      refresh_before_seconds: 300,
    });
  });

  it('records the oauth beta flag as a list-merged required header', () => {
    expect(profile.inference?.required_headers).toEqual([{ name: 'anthropic-beta', value: 'oauth-2025-04-20', merge: 'list' }]);
  });
});

describe('mergeProfileCatalogues', () => {
  it('lets admin profiles shadow built-ins and reports which', () => {
    const custom: ProviderProfile = { ...builtinCatalogue().get('github')!, display_name: 'GitHub (corp)' };
    const extra: ProviderProfile = { ...custom, id: 'corp-git' };
    const { catalogue, shadowed } = mergeProfileCatalogues(builtinCatalogue(), [custom, extra]);
    expect(shadowed).toEqual(['github']);
    expect(catalogue.get('github')?.display_name).toBe('GitHub (corp)');
    expect(catalogue.get('corp-git')?.id).toBe('corp-git');
    expect(builtinCatalogue().get('github')?.display_name).toBe('GitHub');
    expect(catalogue.size).toBe(builtinCatalogue().size + 1);
    // An admin profile's id becomes a type the normalizer accepts.
    expect(() => normalizeProviderType('Corp-Git')).toThrow(/unsupported provider type/);
    expect(normalizeProviderType('Corp-Git', catalogueTypes(catalogue))).toBe('corp-git');
  });
});
