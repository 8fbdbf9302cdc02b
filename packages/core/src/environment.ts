import { CoreError } from './errors.js';
import { isInjectable, type ProfileCatalogue } from './provider-profile.js';

/** The slice of a provider record that environment resolution needs. */
export interface ProviderForEnvironment {
  readonly name: string;
  /** Canonical type. */
  readonly type: string;
  /** Plain credential values (the server unseals them first). */
  readonly credentials: Readonly<Record<string, string>>;
}

/**
 * The environment a sandbox child may see from its bound providers: only credentials whose profile
 * declares them injectable. Non-injectable keys never appear, whatever the combination of providers.
 * The same key from two providers is a `duplicate_environment_key` error naming both.
 */
export function resolveProviderEnvironment(
  providers: readonly ProviderForEnvironment[],
  catalogue: ProfileCatalogue,
): Record<string, string> {
  const env: Record<string, string> = {};
  const owner = new Map<string, string>();
  for (const provider of providers) {
    const profile = catalogue.get(provider.type);
    for (const [key, value] of Object.entries(provider.credentials)) {
      if (!isInjectable(profile, key)) continue;
      if (value.trim() === '') continue;
      const first = owner.get(key);
      if (first !== undefined) {
        throw new CoreError(
          'duplicate_environment_key',
          `providers '${first}' and '${provider.name}' both set ${key}; bind only one of them to the sandbox or rename the key in one provider`,
          { details: { key, providers: [first, provider.name] } },
        );
      }
      owner.set(key, provider.name);
      env[key] = value;
    }
  }
  return env;
}
