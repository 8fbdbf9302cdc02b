import { GENERATED_PROVIDER_PROFILES } from './catalogue.generated.js';
import type { ProfileCatalogue, ProviderProfile } from './provider-profile.js';

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * The built-in provider profiles (from `providers/*.yaml`, validated and compiled in at build time),
 * sorted by id and frozen.
 */
export const BUILTIN_PROVIDER_PROFILES: readonly ProviderProfile[] = deepFreeze(GENERATED_PROVIDER_PROFILES);

/** A catalogue (id → profile) of already validated profiles; a later profile with the same id wins. */
export function createProfileCatalogue(profiles: Iterable<ProviderProfile>): ProfileCatalogue {
  const catalogue = new Map<string, ProviderProfile>();
  for (const p of profiles) catalogue.set(p.id, p);
  return catalogue;
}

let builtin: ProfileCatalogue | undefined;

/** The built-in catalogue. Needs no file system and no YAML parser. */
export function builtinCatalogue(): ProfileCatalogue {
  builtin ??= createProfileCatalogue(BUILTIN_PROVIDER_PROFILES);
  return builtin;
}

/**
 * Layers an admin's profiles over a base catalogue (the gateway's `--profiles-dir` over the built-ins).
 * A profile with a built-in's id replaces it; `shadowed` lists those ids so the caller can log them.
 */
export function mergeProfileCatalogues(
  base: ProfileCatalogue,
  overrides: Iterable<ProviderProfile>,
): { readonly catalogue: ProfileCatalogue; readonly shadowed: readonly string[] } {
  const catalogue = new Map(base);
  const shadowed: string[] = [];
  for (const p of overrides) {
    if (catalogue.has(p.id)) shadowed.push(p.id);
    catalogue.set(p.id, p);
  }
  return { catalogue, shadowed };
}

/** Ids of the catalogue's profiles, for `normalizeProviderType(input, extraTypes)`. */
export function catalogueTypes(catalogue: ProfileCatalogue): readonly string[] {
  return [...catalogue.keys()];
}
