import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BUILTIN_PROVIDER_PROFILES, invalidProfileError, type ProfileProblem, type ProviderProfile } from '@openshell/core';
import type { YamlProfileFile } from '@openshell/core/yaml';
import { type Catalogue, makeCatalogue } from './catalogue.js';

/** Built-in provider profiles: core's catalogue, compiled from `providers/*.yaml`. */
export function builtinProfiles(): readonly ProviderProfile[] {
  return BUILTIN_PROVIDER_PROFILES;
}

/**
 * Reads every `*.yaml` / `*.yml` file of an admin's profiles directory and validates them as one set
 * with `@openshell/core/yaml`. Any problem (unreadable file, YAML syntax, schema, a token URL in plain
 * http to a non-loopback host, a duplicate id) stops with one `invalid_profile` error listing all of
 * them, each with file, line and path.
 */
export async function loadProfilesDir(dir: string): Promise<{ profile: ProviderProfile; source: string }[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => /\.ya?ml$/i.test(n)).sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw invalidProfileError([{ source: dir, path: '(root)', segments: [], message: `cannot read the profiles directory (${code}); check --profiles-dir` }]);
  }
  const files: YamlProfileFile[] = [];
  const problems: ProfileProblem[] = [];
  for (const name of names) {
    const source = join(dir, name);
    try {
      files.push({ name: source, text: await readFile(source, 'utf8') });
    } catch (err) {
      problems.push({ source, path: '(root)', segments: [], message: `cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})` });
    }
  }
  // The YAML parser is loaded only when an admin profiles directory is given (start-up time).
  const { validateProviderProfileYamlFiles } = await import('@openshell/core/yaml');
  const result = validateProviderProfileYamlFiles(files);
  const all = [...problems, ...result.problems];
  if (all.length > 0) throw invalidProfileError(all);
  const sourceOf = new Map<string, string>();
  // Profiles are valid here, so validating each file alone tells which file holds which id.
  for (const f of files) {
    for (const p of validateProviderProfileYamlFiles([f]).profiles) if (!sourceOf.has(p.id)) sourceOf.set(p.id, f.name);
  }
  return result.profiles.map((profile) => ({ profile, source: sourceOf.get(profile.id) ?? dir }));
}

/** The gateway catalogue: built-ins, then the admin's directory (which may shadow built-ins). */
export async function loadCatalogue(profilesDir: string | undefined): Promise<{ catalogue: Catalogue; shadowed: { id: string; source: string }[] }> {
  const admin = profilesDir === undefined ? [] : await loadProfilesDir(profilesDir);
  return makeCatalogue(builtinProfiles(), admin);
}
