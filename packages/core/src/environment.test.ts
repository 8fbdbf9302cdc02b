import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  builtinCatalogue,
  CoreError,
  createProfileCatalogue,
  isInjectable,
  type ProfileCatalogue,
  type ProviderForEnvironment,
  type ProviderProfile,
  resolveProviderEnvironment,
} from './index.js';

const catalogue = builtinCatalogue();

describe('resolveProviderEnvironment', () => {
  it.each([
    ['an injectable tool token', [{ name: 'gh', type: 'github', credentials: { GH_TOKEN: 'ghp_1' } }], { GH_TOKEN: 'ghp_1' }],
    ['both env vars of one credential', [{ name: 'gh', type: 'github', credentials: { GH_TOKEN: 'a', GITHUB_TOKEN: 'b' } }], { GH_TOKEN: 'a', GITHUB_TOKEN: 'b' }],
    ['a subscription token (never)', [{ name: 'plan', type: 'anthropic-oauth', credentials: { ANTHROPIC_OAUTH_TOKEN: 'sk-ant-oat01-x' } }], {}],
    ['an inference API key (never)', [{ name: 'oa', type: 'openai', credentials: { OPENAI_API_KEY: 'sk-x' } }], {}],
    ['the Vertex service-account key (never)', [{ name: 'v', type: 'google-vertex-ai', credentials: { GOOGLE_SERVICE_ACCOUNT_KEY: '{}' } }], {}],
    ['a key the profile does not declare (fail closed)', [{ name: 'gh', type: 'github', credentials: { EXTRA: 'x' } }], {}],
    ['a type without a profile (fail closed)', [{ name: 'cx', type: 'codex', credentials: { CODEX_AUTH_ACCESS_TOKEN: 'x' } }], {}],
    ['a blank value (skipped)', [{ name: 'gh', type: 'github', credentials: { GH_TOKEN: '  ' } }], {}],
    [
      'a tool key next to an inference key of the same name from another type',
      [
        { name: 'cc', type: 'claude-code', credentials: { ANTHROPIC_API_KEY: 'tool-key' } },
        { name: 'api', type: 'anthropic', credentials: { ANTHROPIC_API_KEY: 'boundary-key' } },
      ],
      { ANTHROPIC_API_KEY: 'tool-key' },
    ],
  ] as const)('%s', (_name, providers, expected) => {
    expect(resolveProviderEnvironment(providers, catalogue)).toEqual(expected);
  });

  it('rejects the same injectable key from two providers, naming both', () => {
    const providers = [
      { name: 'gh-personal', type: 'github', credentials: { GH_TOKEN: 'a' } },
      { name: 'gh-work', type: 'github', credentials: { GH_TOKEN: 'b' } },
    ];
    let caught: unknown;
    try {
      resolveProviderEnvironment(providers, catalogue);
    } catch (err) {
      caught = err;
    }
    expect(CoreError.isInstance(caught)).toBe(true);
    const err = caught as CoreError;
    expect(err.code).toBe('duplicate_environment_key');
    expect(err.message).toBe(
      "providers 'gh-personal' and 'gh-work' both set GH_TOKEN; bind only one of them to the sandbox or rename the key in one provider",
    );
    expect(err.details).toEqual({ key: 'GH_TOKEN', providers: ['gh-personal', 'gh-work'] });
    // The values never appear in the error.
    expect(`${err.message} ${JSON.stringify(err.details)}`).not.toMatch(/"a"|"b"/);
  });
});

// --- property: no non-injectable key or value ever comes out, for random catalogues and provider sets ---

const ENV_KEYS = ['KEY_A', 'KEY_B', 'KEY_C', 'KEY_D', 'KEY_E', 'KEY_F', 'GH_TOKEN', 'ANTHROPIC_API_KEY', 'ANTHROPIC_OAUTH_TOKEN', 'OPENAI_API_KEY'];
const TYPES = ['t-one', 't-two', 't-three', 'github', 'anthropic-oauth', 'openai', 'claude-code', 'no-profile'];

const profileArb = (id: string): fc.Arbitrary<ProviderProfile> =>
  fc
    .uniqueArray(fc.constantFrom(...ENV_KEYS), { maxLength: 5 })
    .chain((keys) =>
      fc.tuple(fc.constant(keys), fc.array(fc.boolean(), { minLength: keys.length, maxLength: keys.length })),
    )
    .map(([keys, flags]) => ({
      id,
      display_name: id,
      description: '',
      category: 'other' as const,
      inference_capable: false,
      experimental: false,
      credentials: keys.map((k, i) => ({ name: `c${i}`, env_vars: [k], required: false, injectable: flags[i] ?? true })),
      discovery: { credentials: [] },
      endpoints: [],
      binaries: [],
    }));

/** Random catalogues: the built-in one, or random profiles for the t-* types layered over it. */
const catalogueArb: fc.Arbitrary<ProfileCatalogue> = fc.oneof(
  fc.constant(catalogue),
  fc
    .tuple(profileArb('t-one'), profileArb('t-two'), profileArb('t-three'))
    .map((ps) => createProfileCatalogue([...catalogue.values(), ...ps])),
);

const providersArb = fc.uniqueArray(
  fc.record({
    name: fc.string({ minLength: 1, maxLength: 8 }),
    type: fc.constantFrom(...TYPES),
    credentials: fc.dictionary(fc.constantFrom(...ENV_KEYS), fc.string({ maxLength: 6 }), { maxKeys: 6 }),
  }),
  { maxLength: 5, selector: (p) => p.name },
);

describe('resolveProviderEnvironment (property)', () => {
  it('never emits a non-injectable key or value, whatever providers are bound', () => {
    fc.assert(
      fc.property(catalogueArb, providersArb, (cat, raw) => {
        // Tag every value with its provider, key and injectability so a leak is recognizable.
        const providers: ProviderForEnvironment[] = raw.map((p) => ({
          ...p,
          credentials: Object.fromEntries(
            Object.entries(p.credentials).map(([k, v]) => [
              k,
              `${isInjectable(cat.get(p.type), k) ? 'INJ' : 'NONINJ'}:${p.name}:${k}:${v}`,
            ]),
          ),
        }));
        let env: Record<string, string>;
        try {
          env = resolveProviderEnvironment(providers, cat);
        } catch (err) {
          // The only allowed failure: two providers supplying the same injectable key.
          expect(CoreError.isInstance(err) && err.code).toBe('duplicate_environment_key');
          const { key, providers: names } = (err as CoreError).details as { key: string; providers: [string, string] };
          expect(names[0]).not.toBe(names[1]);
          for (const n of names) {
            const p = providers.find((x) => x.name === n)!;
            expect(isInjectable(cat.get(p.type), key)).toBe(true);
          }
          return;
        }
        for (const [key, value] of Object.entries(env)) {
          expect(value.startsWith('NONINJ:')).toBe(false);
          const owner = providers.find((p) => p.credentials[key] === value);
          expect(owner).toBeDefined();
          expect(isInjectable(cat.get(owner!.type), key)).toBe(true);
        }
        // And nothing injectable and non-blank was dropped.
        for (const p of providers) {
          for (const [key, value] of Object.entries(p.credentials)) {
            if (isInjectable(cat.get(p.type), key) && value.split(':').slice(3).join(':').trim() !== '') {
              expect(env[key]).toBeDefined();
            }
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
