import type { z } from 'zod';
import { CoreError } from './errors.js';
import { PROVIDER_TYPE_ALIASES } from './normalize.js';
import type {
  CredentialRefresh,
  ProfileCredential,
  ProfileEndpoint,
  ProviderProfile,
} from './provider-profile.js';
import { knownProfileFields, type ProviderProfileShape, providerProfileSchema } from './provider-profile-schema.js';
import { checkCredentialUrl, isLoopbackHostname, parseAbsoluteUrl } from './url-rules.js';

/** One problem found in a provider profile: where it is and what to do about it. */
export interface ProfileProblem {
  /** File (or other origin) of the profile, when known. */
  readonly source?: string;
  /** Id of the profile, when it has a usable one. */
  readonly profileId?: string;
  /** Path inside the profile, e.g. `credentials[0].refresh.token_urls[1]`; `(root)` for the whole profile. */
  readonly path: string;
  /** The same path as segments (for mapping back to a YAML line). */
  readonly segments: readonly (string | number)[];
  /** What is wrong and how to fix it. */
  readonly message: string;
  /** 1-based line in the source file, when known. */
  readonly line?: number;
}

/** Result of validating one profile: the profile, or every problem found. */
export type ProfileValidationResult =
  | { readonly ok: true; readonly profile: ProviderProfile; readonly problems: readonly [] }
  | { readonly ok: false; readonly problems: readonly ProfileProblem[] };

/** A profile to validate as part of a set, with where it came from. */
export interface ProfileSource {
  readonly source: string;
  readonly profile: unknown;
}

type Segments = readonly (string | number)[];

/** Renders path segments as `a.b[0].c`. */
export function formatProfilePath(segments: Segments): string {
  if (segments.length === 0) return '(root)';
  let out = '';
  for (const s of segments) out += typeof s === 'number' ? `[${s}]` : out === '' ? s : `.${s}`;
  return out;
}

/** One line per problem: `source:line: path: message`. */
export function formatProfileProblem(p: ProfileProblem): string {
  const where = p.source === undefined ? '' : p.line === undefined ? `${p.source}: ` : `${p.source}:${p.line}: `;
  return `${where}${p.path}: ${p.message}`;
}

/** The `invalid_profile` error listing every problem (in `details.problems`). */
export function invalidProfileError(problems: readonly ProfileProblem[]): CoreError {
  const n = problems.length;
  return new CoreError(
    'invalid_profile',
    `${n} problem${n === 1 ? '' : 's'} in provider profiles; fix each and try again:\n${problems.map((p) => `  - ${formatProfileProblem(p)}`).join('\n')}`,
    { details: { problems } },
  );
}

const ID_RE = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const ENV_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const HEADER_RE = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
const HOST_LABEL_RE = /^(?:\*\*|[a-z0-9*](?:[a-z0-9*-]*[a-z0-9*])?)$/;

/** Required fields and how to fill them (used when a field is missing). */
const MISSING_HINTS: Readonly<Record<string, string>> = {
  id: "add the profile's id, lowercase kebab-case, e.g. `id: my-provider`",
  display_name: 'add a human-readable name, e.g. `display_name: My Provider`',
  name: 'give the entry a name',
  env_vars: 'list the credential keys, e.g. `env_vars: [MY_API_KEY]`',
  strategy: 'set `strategy: oauth2_refresh_token`',
  token_urls: 'list the token endpoint URL(s) in the order to try them, e.g. `token_urls: [https://auth.example.com/oauth/token]`',
  host: 'set the host name, e.g. `host: api.example.com`',
  port: 'set the port, e.g. `port: 443`',
  value: 'set the header value',
  merge: 'set `merge: list` (union of comma-separated tokens) or `merge: replace`',
};

/** Hints for fields that look like another schema's spelling. */
const RENAMED_FIELDS: Readonly<Record<string, string>> = {
  token_url: 'use `token_urls` (a list) instead',
  scope: 'use `scopes` (a list) instead',
  env_var: 'use `env_vars` (a list) instead',
  ports: 'declare one endpoint per port with `port`',
};

function fieldLabel(segments: Segments): string {
  for (let i = segments.length - 1; i >= 0; i--) {
    const s = segments[i];
    if (typeof s === 'string') return i === segments.length - 1 ? s : `${s} entry`;
  }
  return 'profile';
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string '${v.length > 40 ? `${v.slice(0, 40)}…` : v}'`;
  return `${typeof v} ${String(v)}`;
}

const EXPECTED_WORDS: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping of fields',
};

/** Message for a shape issue zod found, phrased as what to fix. */
function shapeMessage(iss: z.core.$ZodRawIssue): string | undefined {
  const path = (iss.path ?? []) as Segments;
  const field = fieldLabel(path);
  if ((iss.code === 'invalid_type' || iss.code === 'invalid_value') && iss.input === undefined) {
    const last = path[path.length - 1];
    const hint = typeof last === 'string' ? MISSING_HINTS[last] : undefined;
    return `${field} is required${hint ? `; ${hint}` : ''}`;
  }
  switch (iss.code) {
    case 'invalid_type': {
      const expected = EXPECTED_WORDS[iss.expected] ?? iss.expected;
      return `${field} must be ${expected}, got ${describeValue(iss.input)}`;
    }
    case 'invalid_value': {
      const values = iss.values.map(String).join(', ');
      return `unknown ${field} ${JSON.stringify(iss.input)}; use one of: ${values}`;
    }
    default:
      return undefined;
  }
}

function problem(segments: Segments, message: string): ProfileProblem {
  return { path: formatProfilePath(segments), segments: [...segments], message };
}

function shapeProblems(error: z.ZodError): ProfileProblem[] {
  const out: ProfileProblem[] = [];
  for (const iss of error.issues) {
    const path = iss.path.filter((s): s is string | number => typeof s !== 'symbol');
    if (iss.code === 'unrecognized_keys') {
      const known = knownProfileFields(path);
      for (const key of iss.keys) {
        const renamed = RENAMED_FIELDS[key];
        out.push(
          problem(
            [...path, key],
            `unknown field '${key}'; ${renamed ?? 'remove it or fix its spelling'}${known.length > 0 ? ` (fields allowed here: ${known.join(', ')})` : ''}`,
          ),
        );
      }
      continue;
    }
    out.push(problem(path, iss.message));
  }
  return out;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const asArray = (v: unknown): readonly unknown[] => (Array.isArray(v) ? v : []);
const asString = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function suggestId(id: string): string {
  return id
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/**
 * Cross-field and format rules, run over the raw input so they report even when the shape has other
 * problems. Every check guards its own types: a wrong type is the shape check's to report.
 */
function semanticProblems(raw: Record<string, unknown>): ProfileProblem[] {
  const out: ProfileProblem[] = [];
  const add = (segments: Segments, message: string) => out.push(problem(segments, message));

  const id = asString(raw.id);
  if (id !== undefined) {
    if (id.trim() === '') add(['id'], "id must not be empty; use lowercase kebab-case, e.g. 'my-provider'");
    else if (!ID_RE.test(id)) {
      const s = suggestId(id);
      add(
        ['id'],
        `id '${id}' must be lowercase kebab-case (a-z, 0-9, single '-' between parts)${s === '' ? '' : `, e.g. '${s}'`}`,
      );
    } else if (PROVIDER_TYPE_ALIASES[id] !== undefined) {
      add(['id'], `id '${id}' is an alias of the type '${PROVIDER_TYPE_ALIASES[id]}' and could never be selected; choose another id`);
    }
  }

  // Credentials: names, env vars (unique across the whole profile), auth style details, refresh.
  const credentials = asArray(raw.credentials);
  const nameAt = new Map<string, number>();
  const envAt = new Map<string, { cred: string; path: Segments }>();
  credentials.forEach((c, i) => {
    if (!isRecord(c)) return;
    const base = ['credentials', i] as const;
    const name = asString(c.name)?.trim();
    if (name !== undefined && name !== '') {
      const first = nameAt.get(name);
      if (first !== undefined) {
        add([...base, 'name'], `duplicate credential name '${name}' (also credentials[${first}]); give each credential a unique name`);
      } else nameAt.set(name, i);
    }
    asArray(c.env_vars).forEach((e, k) => {
      const path = [...base, 'env_vars', k];
      if (typeof e !== 'string') return; // shape error
      if (e.trim() === '') {
        add(path, 'env var must not be empty; remove the entry or write the variable name');
        return;
      }
      if (!ENV_RE.test(e)) {
        add(path, `env var '${e}' is not a valid environment variable name (letters, digits and '_', not starting with a digit)`);
        return;
      }
      const first = envAt.get(e);
      if (first !== undefined) {
        add(
          path,
          `duplicate env var '${e}' (already declared at ${formatProfilePath(first.path)}${first.cred ? ` by credential '${first.cred}'` : ''}); an env var may belong to one credential once`,
        );
      } else envAt.set(e, { cred: name ?? '', path });
    });

    const style = asString(c.auth_style);
    const header = asString(c.header_name);
    if (style === 'header' && (header === undefined || header.trim() === '')) {
      add([...base, 'header_name'], "header_name is required when auth_style is 'header'; set the header that carries the credential, e.g. `header_name: x-api-key`");
    }
    if (header !== undefined && header.trim() !== '') {
      if (!HEADER_RE.test(header)) {
        add([...base, 'header_name'], `header_name '${header}' must be a lowercase HTTP header name, e.g. x-api-key`);
      } else if (style === 'basic' || style === 'query' || style === 'path') {
        add([...base, 'header_name'], `header_name is used only with auth_style 'header' or 'bearer'; remove it or change auth_style (now '${style}')`);
      }
    }
    const query = asString(c.query_param);
    if (style === 'query' && (query === undefined || query.trim() === '')) {
      add([...base, 'query_param'], "query_param is required when auth_style is 'query'; set the query parameter that carries the credential");
    }
    const template = asString(c.path_template);
    if (style === 'path') {
      if (template === undefined || template.trim() === '') {
        add([...base, 'path_template'], "path_template is required when auth_style is 'path', e.g. `path_template: /bot{credential}/`");
      } else {
        const n = template.split('{credential}').length - 1;
        if (n !== 1) {
          add([...base, 'path_template'], `path_template must contain {credential} exactly once; '${template}' contains it ${n} times`);
        }
      }
    }
    if (isRecord(c.refresh)) out.push(...refreshProblems(c.refresh, [...base, 'refresh']));
  });

  // Discovery names credentials of this profile.
  const discovery = isRecord(raw.discovery) ? raw.discovery : undefined;
  const seenDiscovery = new Set<string>();
  asArray(discovery?.credentials).forEach((d, i) => {
    const path = ['discovery', 'credentials', i];
    if (typeof d !== 'string') return; // shape error
    const n = d.trim();
    if (n === '') add(path, 'discovery credential name must not be empty; remove the entry or name a credential');
    else if (seenDiscovery.has(n)) add(path, `duplicate discovery credential '${n}'; list it once`);
    else if (Array.isArray(raw.credentials) && !nameAt.has(n)) {
      const known = [...nameAt.keys()];
      add(path, `unknown discovery credential '${n}'; it must name a credential of this profile (${known.length > 0 ? `known: ${known.join(', ')}` : 'the profile declares none'})`);
    }
    seenDiscovery.add(n);
  });

  // Endpoints: host patterns and uniqueness.
  const seenEndpoints = new Map<string, number>();
  asArray(raw.endpoints).forEach((e, i) => {
    if (!isRecord(e)) return;
    const host = asString(e.host);
    if (host === undefined || host.trim() === '') return; // shape error
    if (!host.split('.').every((l) => HOST_LABEL_RE.test(l))) {
      add(['endpoints', i, 'host'], `endpoint host '${host}' must be a lowercase DNS name, optionally with '*' wildcards (e.g. api.example.com, *.example.com)`);
      return;
    }
    if (typeof e.port === 'number') {
      const key = `${host}:${e.port}`;
      const first = seenEndpoints.get(key);
      if (first !== undefined) add(['endpoints', i], `duplicate endpoint '${key}' (also endpoints[${first}]); list it once`);
      else seenEndpoints.set(key, i);
    }
  });

  asArray(raw.binaries).forEach((b, i) => {
    if (typeof b !== 'string') return;
    if (b.trim() === '') add(['binaries', i], 'binary path must not be empty; remove the entry');
    else if (!b.startsWith('/')) add(['binaries', i], `binary path '${b}' must be absolute (start with '/')`);
  });

  // Inference-contract constants.
  if (isRecord(raw.inference)) {
    if (raw.inference_capable === false || raw.inference_capable === undefined) {
      add(['inference'], 'an inference block needs `inference_capable: true`; set it or remove the block');
    }
    const seen = new Map<string, number>();
    asArray(raw.inference.required_headers).forEach((h, i) => {
      if (!isRecord(h)) return;
      const base = ['inference', 'required_headers', i];
      const name = asString(h.name);
      if (name !== undefined) {
        if (!HEADER_RE.test(name)) add([...base, 'name'], `header name '${name}' must be a lowercase HTTP header name, e.g. anthropic-beta`);
        else if (seen.has(name)) add([...base, 'name'], `duplicate required header '${name}' (also required_headers[${seen.get(name)}]); list each header once`);
        else seen.set(name, i);
      }
      const value = asString(h.value);
      if (value !== undefined) {
        if (value.trim() === '') add([...base, 'value'], 'header value must not be empty');
        else if (/[\r\n\0]/.test(value)) add([...base, 'value'], 'header value must not contain CR, LF or NUL');
      }
    });
  }
  return out;
}

function refreshProblems(r: Record<string, unknown>, base: Segments): ProfileProblem[] {
  const out: ProfileProblem[] = [];
  const add = (segments: Segments, message: string) => out.push(problem(segments, message));
  const seen = new Set<string>();
  asArray(r.token_urls).forEach((u, i) => {
    const path = [...base, 'token_urls', i];
    if (typeof u !== 'string') return; // shape error
    const msg = checkCredentialUrl('token URL', u);
    if (msg !== undefined) add(path, msg);
    else if (seen.has(u)) add(path, `duplicate token URL '${u}'; list each endpoint once`);
    seen.add(u);
  });
  const authorize = asString(r.authorize_url);
  if (authorize !== undefined) {
    const msg = checkCredentialUrl('authorize_url', authorize);
    if (msg !== undefined) add([...base, 'authorize_url'], msg);
  }
  const redirect = asString(r.redirect_uri);
  if (redirect !== undefined) {
    const url = parseAbsoluteUrl(redirect);
    if (url === undefined) {
      add([...base, 'redirect_uri'], `redirect_uri '${redirect}' must be an absolute URL, e.g. https://auth.example.com/oauth/code/callback`);
    } else if (!(url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHostname(url.hostname)))) {
      add([...base, 'redirect_uri'], `redirect_uri '${redirect}' must use https, or http on a loopback host (e.g. http://localhost:54545/callback)`);
    }
  }
  asArray(r.scopes).forEach((s, i) => {
    if (typeof s !== 'string') return; // shape error
    if (s.trim() === '') add([...base, 'scopes', i], 'scope must not be empty; remove the entry');
    else if (/\s/.test(s)) add([...base, 'scopes', i], `scope '${s}' must be a single scope without spaces; list each scope as its own entry`);
  });
  const before = typeof r.refresh_before_seconds === 'number' ? r.refresh_before_seconds : undefined;
  const max = r.max_lifetime_seconds;
  if (typeof max === 'number' && max >= 1 && (before ?? 300) >= max) {
    add(
      [...base, 'max_lifetime_seconds'],
      `max_lifetime_seconds (${max}) must be greater than refresh_before_seconds (${before ?? 300}), or every token would be due for refresh as soon as it is minted`,
    );
  }
  return out;
}

function toRefresh(r: NonNullable<ProviderProfileShape['credentials'][number]['refresh']>): CredentialRefresh {
  return {
    strategy: r.strategy,
    token_urls: r.token_urls,
    ...(r.authorize_url === undefined ? {} : { authorize_url: r.authorize_url }),
    ...(r.redirect_uri === undefined ? {} : { redirect_uri: r.redirect_uri }),
    ...(r.client_id === undefined ? {} : { client_id: r.client_id }),
    scopes: r.scopes,
    request_encoding: r.request_encoding,
    ...(r.user_agent === undefined ? {} : { user_agent: r.user_agent }),
    refresh_before_seconds: r.refresh_before_seconds,
    ...(r.max_lifetime_seconds === undefined ? {} : { max_lifetime_seconds: r.max_lifetime_seconds }),
  };
}

function toCredential(c: ProviderProfileShape['credentials'][number]): ProfileCredential {
  return {
    name: c.name.trim(),
    ...(c.description === undefined ? {} : { description: c.description }),
    env_vars: c.env_vars,
    required: c.required,
    ...(c.auth_style === undefined ? {} : { auth_style: c.auth_style }),
    ...(c.header_name === undefined ? {} : { header_name: c.header_name }),
    ...(c.query_param === undefined ? {} : { query_param: c.query_param }),
    ...(c.path_template === undefined ? {} : { path_template: c.path_template }),
    injectable: c.injectable,
    ...(c.refresh === undefined ? {} : { refresh: toRefresh(c.refresh) }),
  };
}

function toEndpoint(e: ProviderProfileShape['endpoints'][number]): ProfileEndpoint {
  return { host: e.host, port: e.port, ...(e.protocol === undefined ? {} : { protocol: e.protocol }) };
}

function toProfile(s: ProviderProfileShape): ProviderProfile {
  return {
    id: s.id,
    display_name: s.display_name,
    description: s.description,
    category: s.category,
    inference_capable: s.inference_capable,
    experimental: s.experimental,
    credentials: s.credentials.map(toCredential),
    discovery: { credentials: s.discovery.credentials.map((d) => d.trim()) },
    endpoints: s.endpoints.map(toEndpoint),
    binaries: s.binaries,
    ...(s.inference === undefined ? {} : { inference: { required_headers: s.inference.required_headers } }),
  };
}

/**
 * Validates one provider profile (parsed YAML or JSON) and returns it with defaults applied, or every
 * problem found, each with its path and a message that says what to fix. Never throws.
 */
export function validateProviderProfile(input: unknown): ProfileValidationResult {
  if (!isRecord(input)) {
    return {
      ok: false,
      problems: [problem([], `a provider profile must be a mapping of fields (id, display_name, credentials, …), got ${describeValue(input)}`)],
    };
  }
  const parsed = providerProfileSchema.safeParse(input, { error: shapeMessage });
  const problems = [...(parsed.success ? [] : shapeProblems(parsed.error)), ...semanticProblems(input)];
  const id = asString(input.id);
  const withId = id !== undefined && ID_RE.test(id) ? problems.map((p) => ({ ...p, profileId: id })) : problems;
  if (withId.length > 0 || !parsed.success) return { ok: false, problems: withId };
  return { ok: true, profile: toProfile(parsed.data), problems: [] };
}

/** Like {@link validateProviderProfile} but throws `invalid_profile` listing every problem. */
export function parseProviderProfile(input: unknown, source?: string): ProviderProfile {
  const result = validateProviderProfile(input);
  if (result.ok) return result.profile;
  throw invalidProfileError(source === undefined ? result.problems : result.problems.map((p) => ({ ...p, source })));
}

/**
 * Validates a set of profiles that will form one catalogue: each profile's own rules plus unique ids.
 * Returns the valid profiles sorted by id and every problem (with its source).
 */
export function validateProfileSet(entries: readonly ProfileSource[]): {
  readonly profiles: readonly ProviderProfile[];
  readonly problems: readonly ProfileProblem[];
} {
  const problems: ProfileProblem[] = [];
  const profiles: ProviderProfile[] = [];
  const firstSource = new Map<string, string>();
  for (const { source, profile } of entries) {
    const result = validateProviderProfile(profile);
    if (!result.ok) {
      problems.push(...result.problems.map((p) => ({ ...p, source })));
    }
    const id = isRecord(profile) ? asString(profile.id) : undefined;
    if (id !== undefined && id.trim() !== '') {
      const first = firstSource.get(id);
      if (first !== undefined) {
        problems.push({
          ...problem(['id'], `duplicate provider profile id '${id}' (also defined in ${first}); each id may appear once in a catalogue`),
          source,
          profileId: id,
        });
        continue;
      }
      firstSource.set(id, source);
    }
    if (result.ok) profiles.push(result.profile);
  }
  profiles.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { profiles, problems };
}

/** Like {@link validateProfileSet} but throws `invalid_profile` when any problem is found. */
export function parseProfileSet(entries: readonly ProfileSource[]): readonly ProviderProfile[] {
  const { profiles, problems } = validateProfileSet(entries);
  if (problems.length > 0) throw invalidProfileError(problems);
  return profiles;
}
