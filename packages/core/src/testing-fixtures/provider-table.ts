import {
  BUILTIN_INFERENCE_PROFILES,
  KNOWN_PROVIDER_TYPES,
  PROVIDER_TYPE_ALIASES,
  type ProfileCatalogue,
} from '../index.js';

const code = (s: string) => `\`${s}\``;

/**
 * The provider-type table of docs/sandboxes/manage-providers.mdx, rendered from the catalogue, the
 * alias table and the inference profiles, so the page cannot drift from the code.
 */
export function renderProviderTypeTable(catalogue: ProfileCatalogue): string {
  const inference = new Set(BUILTIN_INFERENCE_PROFILES.map((p) => p.providerType));
  const rows = KNOWN_PROVIDER_TYPES.map((type) => {
    const profile = catalogue.get(type);
    const aliases = Object.entries(PROVIDER_TYPE_ALIASES)
      .filter(([, t]) => t === type)
      .map(([a]) => code(a))
      .join(', ');
    const name = profile ? `${profile.display_name}${profile.experimental ? ' (experimental)' : ''}` : 'no built-in profile';
    const creds = profile?.credentials ?? [];
    const keys = creds.length > 0 ? creds.map((c) => c.env_vars.map(code).join(' / ')).join('<br />') : '—';
    const injectable = profile
      ? creds.length > 0
        ? creds.map((c) => (c.injectable ? 'yes' : 'no')).join('<br />')
        : '—'
      : 'never (no profile)';
    const refresh =
      creds.length > 0
        ? creds.map((c) => (c.refresh ? `${c.refresh.strategy} (${c.refresh.request_encoding})` : '—')).join('<br />')
        : '—';
    return `| ${code(type)} | ${aliases || '—'} | ${name} | ${inference.has(type) ? 'yes' : 'no'} | ${keys} | ${injectable} | ${refresh} |`;
  });
  return [
    '| Type | Aliases | Profile | `inference.local` route | Credential keys | Injectable | Refresh |',
    '|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

export const TABLE_BEGIN =
  '{/* BEGIN provider-types: generated from the catalogue; a core test fails when it drifts. Regenerate with OPENSHELL_UPDATE_DOCS=1 pnpm --filter @openshell/core test provider-docs */}';
export const TABLE_END = '{/* END provider-types */}';
