import { KNOWN_PROVIDER_TYPES, type ProfileCatalogue, type ProviderProfile } from '@openshell/core';

/** The profile catalogue the gateway serves: built-ins plus an admin's `--profiles-dir`. */
export interface Catalogue {
  readonly profiles: ProfileCatalogue;
  /** Where each profile came from: `builtin` or the admin file path. */
  readonly sources: ReadonlyMap<string, string>;
  /** Admin profile ids that are not built-in types (accepted by type normalization). */
  readonly extraTypes: readonly string[];
}

/** A catalogue from built-in profiles and admin profiles (admin ones shadow built-ins with the same id). */
export function makeCatalogue(builtin: Iterable<ProviderProfile>, admin: readonly { profile: ProviderProfile; source: string }[]): {
  catalogue: Catalogue;
  shadowed: { id: string; source: string }[];
} {
  const profiles = new Map<string, ProviderProfile>();
  const sources = new Map<string, string>();
  for (const p of builtin) {
    profiles.set(p.id, p);
    sources.set(p.id, 'builtin');
  }
  const shadowed: { id: string; source: string }[] = [];
  for (const { profile, source } of admin) {
    if (sources.get(profile.id) === 'builtin') shadowed.push({ id: profile.id, source });
    profiles.set(profile.id, profile);
    sources.set(profile.id, source);
  }
  const known = new Set(KNOWN_PROVIDER_TYPES);
  const extraTypes = [...profiles.keys()].filter((id) => !known.has(id)).sort();
  return { catalogue: { profiles, sources, extraTypes }, shadowed };
}
