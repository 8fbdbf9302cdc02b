import { CoreError } from './errors.js';

/** Alias → canonical provider type. Keys are already trimmed and lowercased. */
export const PROVIDER_TYPE_ALIASES: Readonly<Record<string, string>> = {
  'claude-plan': 'anthropic-oauth',
  anthropic_oauth: 'anthropic-oauth',
  vertex: 'google-vertex-ai',
  'vertex-ai': 'google-vertex-ai',
  'google-vertex': 'google-vertex-ai',
  'gcp-vertex': 'google-vertex-ai',
  claude: 'claude-code',
  claude_code: 'claude-code',
  gcp: 'google-cloud',
  glab: 'gitlab',
  gh: 'github',
};

/** Canonical provider types known to this build (inference types first). */
export const KNOWN_PROVIDER_TYPES: readonly string[] = [
  'openai',
  'anthropic',
  'anthropic-oauth',
  'nvidia',
  'deepinfra',
  'google-vertex-ai',
  'aws-bedrock',
  'claude-code',
  'codex',
  'copilot',
  'opencode',
  'google-cloud',
  'generic',
  'gitlab',
  'github',
  'outlook',
];

const KNOWN = new Set(KNOWN_PROVIDER_TYPES);

/**
 * Canonical form of a provider type: trim, lowercase, then the alias table. `extraTypes` lets a caller
 * accept ids of admin-supplied profiles. Returns undefined for an unknown type.
 */
export function tryNormalizeProviderType(input: string, extraTypes?: Iterable<string>): string | undefined {
  const t = input.trim().toLowerCase();
  if (t === '') return undefined;
  const canonical = PROVIDER_TYPE_ALIASES[t] ?? t;
  if (KNOWN.has(canonical)) return canonical;
  if (extraTypes) for (const e of extraTypes) if (e === canonical) return canonical;
  return undefined;
}

/** Like {@link tryNormalizeProviderType} but throws `unsupported_provider_type` listing the known types. */
export function normalizeProviderType(input: string, extraTypes?: Iterable<string>): string {
  const extra = extraTypes ? [...extraTypes] : [];
  const canonical = tryNormalizeProviderType(input, extra);
  if (canonical !== undefined) return canonical;
  const known = [...new Set([...KNOWN_PROVIDER_TYPES, ...extra])].join(', ');
  const aliases = Object.keys(PROVIDER_TYPE_ALIASES).join(', ');
  throw new CoreError(
    'unsupported_provider_type',
    `unsupported provider type '${input.trim()}'. Known types: ${known}. Aliases: ${aliases}.`,
    { details: { type: input.trim() } },
  );
}
