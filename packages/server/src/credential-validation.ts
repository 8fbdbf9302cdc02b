import type { ProviderProfile } from '@openshell/core';
import { GatewayError } from './errors.js';

/** Credential and config keys look like environment variable names. */
export const KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Checks a provider's complete credential map against its profile and throws one
 * `invalid_credentials` error listing every problem: an unknown key (the profile declares the
 * allowed ones), a missing required key (unless the gateway mints it through a refresh block), an
 * empty value. A type without a profile accepts any well-formed keys with non-empty values.
 */
export function validateCredentials(
  type: string,
  credentials: Readonly<Record<string, string>>,
  profile: ProviderProfile | undefined,
): void {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(credentials)) {
    if (!KEY_PATTERN.test(key)) problems.push(`credentials.${key}: not a valid key (letters, digits and _; not starting with a digit)`);
    else if (value.trim() === '') problems.push(`credentials.${key}: empty value`);
  }
  if (profile !== undefined) {
    const allowed = profile.credentials.flatMap((c) => c.env_vars);
    for (const key of Object.keys(credentials)) {
      if (KEY_PATTERN.test(key) && !allowed.includes(key)) {
        problems.push(`credentials.${key}: unknown key for type '${type}' (allowed: ${allowed.join(', ') || 'none'})`);
      }
    }
    for (const c of profile.credentials) {
      if (!c.required || c.refresh !== undefined) continue;
      if (!c.env_vars.some((k) => (credentials[k] ?? '').trim() !== '')) {
        problems.push(`credentials: missing required ${c.env_vars.join(' or ')} (${c.name}) for type '${type}'`);
      }
    }
  }
  if (problems.length > 0) {
    const first = problems[0]?.split(':')[0];
    throw new GatewayError('invalid_credentials', problems.join('; '), first === undefined ? undefined : { field: `body.${first}` });
  }
}
