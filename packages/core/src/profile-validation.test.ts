import { describe, expect, it } from 'vitest';
import {
  CoreError,
  formatProfileProblem,
  parseProfileSet,
  parseProviderProfile,
  validateProfileSet,
  validateProviderProfile,
} from './index.js';

type Profile = Record<string, unknown> & {
  credentials: Array<Record<string, unknown> & { refresh?: Record<string, unknown>; env_vars?: unknown }>;
  discovery: { credentials: unknown[] };
  endpoints: Array<Record<string, unknown>>;
  binaries: unknown[];
  inference: { required_headers: Array<Record<string, unknown>> };
};

/** A valid profile exercising every field; each case breaks exactly one rule. */
function base(): Profile {
  return {
    id: 'example',
    display_name: 'Example',
    category: 'inference',
    inference_capable: true,
    credentials: [
      {
        name: 'api_key',
        env_vars: ['EXAMPLE_API_KEY'],
        required: true,
        auth_style: 'header',
        header_name: 'x-api-key',
        injectable: false,
        refresh: {
          strategy: 'oauth2_refresh_token',
          token_urls: ['https://auth.example.com/token', 'https://auth2.example.com/token'],
          authorize_url: 'https://auth.example.com/authorize',
          redirect_uri: 'https://auth.example.com/callback',
          client_id: 'client-1',
          scopes: ['a:read', 'b:write'],
          request_encoding: 'json',
          user_agent: 'example/1.0',
          refresh_before_seconds: 300,
        },
      },
      { name: 'tool_token', env_vars: ['EXAMPLE_TOOL_TOKEN', 'EXAMPLE_TOKEN'], auth_style: 'bearer' },
    ],
    discovery: { credentials: ['api_key'] },
    endpoints: [{ host: 'api.example.com', port: 443, protocol: 'rest' }],
    binaries: ['/usr/bin/example'],
    inference: { required_headers: [{ name: 'x-beta', value: 'flag-1', merge: 'list' }] },
  };
}

const refresh = (p: Profile) => p.credentials[0]!.refresh!;

// [case, mutation, expected path, expected message fragment]
const RULES: ReadonlyArray<readonly [string, (p: Profile) => void, string, string]> = [
  ['missing id', (p) => void delete p.id, 'id', 'id is required; add the profile\'s id'],
  ['empty id', (p) => { p.id = '  '; }, 'id', 'id must not be empty'],
  ['id with uppercase and underscore', (p) => { p.id = 'My_Provider'; }, 'id', "id 'My_Provider' must be lowercase kebab-case (a-z, 0-9, single '-' between parts), e.g. 'my-provider'"],
  ['id with a double dash', (p) => { p.id = 'a--b'; }, 'id', "id 'a--b' must be lowercase kebab-case"],
  ['id that is a type alias', (p) => { p.id = 'claude'; }, 'id', "id 'claude' is an alias of the type 'claude-code' and could never be selected; choose another id"],
  ['id not a string', (p) => { p.id = 42; }, 'id', 'id must be a string, got number 42'],
  ['missing display_name', (p) => void delete p.display_name, 'display_name', 'display_name is required; add a human-readable name'],
  ['blank display_name', (p) => { p.display_name = ' '; }, 'display_name', 'display_name must not be empty'],
  ['unknown category', (p) => { p.category = 'llm'; }, 'category', 'unknown category "llm"; use one of: inference, agent, source_control, messaging, data, knowledge, other'],
  ['inference_capable not a boolean', (p) => { p.inference_capable = 'yes'; }, 'inference_capable', "inference_capable must be true or false, got the string 'yes'"],
  ['unknown top-level field', (p) => { p.endpoint = []; }, 'endpoint', "unknown field 'endpoint'; remove it or fix its spelling (fields allowed here: id, display_name"],
  ['credentials not a list', (p) => { (p as Record<string, unknown>).credentials = { name: 'x' }; }, 'credentials', 'credentials must be a list, got a mapping'],
  ['missing credential name', (p) => void delete p.credentials[1]!.name, 'credentials[1].name', 'name is required; give the entry a name'],
  ['duplicate credential name', (p) => { p.credentials[1]!.name = 'api_key'; }, 'credentials[1].name', "duplicate credential name 'api_key' (also credentials[0]); give each credential a unique name"],
  ['missing env_vars', (p) => void delete p.credentials[1]!.env_vars, 'credentials[1].env_vars', 'env_vars is required; list the credential keys'],
  ['empty env_vars', (p) => { p.credentials[1]!.env_vars = []; }, 'credentials[1].env_vars', 'a credential must list at least one env var'],
  ['env_vars as a string', (p) => { p.credentials[1]!.env_vars = 'EXAMPLE_TOKEN'; }, 'credentials[1].env_vars', "env_vars must be a list, got the string 'EXAMPLE_TOKEN'"],
  ['empty env var', (p) => { p.credentials[1]!.env_vars = ['EXAMPLE_TOOL_TOKEN', '']; }, 'credentials[1].env_vars[1]', 'env var must not be empty; remove the entry or write the variable name'],
  ['env var that is not a variable name', (p) => { p.credentials[1]!.env_vars = ['1BAD']; }, 'credentials[1].env_vars[0]', "env var '1BAD' is not a valid environment variable name"],
  ['duplicate env var across credentials', (p) => { p.credentials[1]!.env_vars = ['EXAMPLE_API_KEY']; }, 'credentials[1].env_vars[0]', "duplicate env var 'EXAMPLE_API_KEY' (already declared at credentials[0].env_vars[0] by credential 'api_key')"],
  ['duplicate env var within a credential', (p) => { p.credentials[1]!.env_vars = ['EXAMPLE_TOKEN', 'EXAMPLE_TOKEN']; }, 'credentials[1].env_vars[1]', "duplicate env var 'EXAMPLE_TOKEN' (already declared at credentials[1].env_vars[0]"],
  ['unknown auth_style', (p) => { p.credentials[1]!.auth_style = 'cookie'; }, 'credentials[1].auth_style', 'unknown auth_style "cookie"; use one of: basic, bearer, header, query, path'],
  ['header auth without header_name', (p) => void delete p.credentials[0]!.header_name, 'credentials[0].header_name', "header_name is required when auth_style is 'header'"],
  ['header_name not lowercase', (p) => { p.credentials[0]!.header_name = 'X-Api-Key'; }, 'credentials[0].header_name', "header_name 'X-Api-Key' must be a lowercase HTTP header name"],
  ['header_name with basic auth', (p) => Object.assign(p.credentials[1]!, { auth_style: 'basic', header_name: 'x-token' }), 'credentials[1].header_name', "header_name is used only with auth_style 'header' or 'bearer'"],
  ['query auth without query_param', (p) => { p.credentials[1]!.auth_style = 'query'; }, 'credentials[1].query_param', "query_param is required when auth_style is 'query'"],
  ['path auth without path_template', (p) => { p.credentials[1]!.auth_style = 'path'; }, 'credentials[1].path_template', "path_template is required when auth_style is 'path'"],
  ['path_template with {credential} twice', (p) => Object.assign(p.credentials[1]!, { auth_style: 'path', path_template: '/{credential}/{credential}' }), 'credentials[1].path_template', "path_template must contain {credential} exactly once; '/{credential}/{credential}' contains it 2 times"],
  ['injectable not a boolean', (p) => { p.credentials[1]!.injectable = 'no'; }, 'credentials[1].injectable', "injectable must be true or false, got the string 'no'"],
  ['unknown credential field', (p) => { p.credentials[1]!.secret = true; }, 'credentials[1].secret', "unknown field 'secret'; remove it or fix its spelling (fields allowed here: name, description, env_vars"],
  ['unknown refresh strategy', (p) => { refresh(p).strategy = 'oauth2_client_credentials'; }, 'credentials[0].refresh.strategy', 'unknown strategy "oauth2_client_credentials"; use one of: oauth2_refresh_token'],
  ['refresh without strategy', (p) => void delete refresh(p).strategy, 'credentials[0].refresh.strategy', 'strategy is required; set `strategy: oauth2_refresh_token`'],
  ['refresh without token_urls', (p) => void delete refresh(p).token_urls, 'credentials[0].refresh.token_urls', 'token_urls is required; list the token endpoint URL(s) in the order to try them'],
  ['refresh with an empty token_urls', (p) => { refresh(p).token_urls = []; }, 'credentials[0].refresh.token_urls', 'token_urls must list at least one token endpoint URL'],
  ['upstream token_url spelling', (p) => { refresh(p).token_url = 'https://auth.example.com/token'; }, 'credentials[0].refresh.token_url', "unknown field 'token_url'; use `token_urls` (a list) instead"],
  ['plain http token URL', (p) => { refresh(p).token_urls = ['http://auth.example.com/token']; }, 'credentials[0].refresh.token_urls[0]', "token URL 'http://auth.example.com/token' must use https; plain http is allowed only for loopback hosts (127.0.0.0/8, ::1, localhost)"],
  ['http token URL on a look-alike host', (p) => { refresh(p).token_urls = ['http://127.0.0.1.evil.example/token']; }, 'credentials[0].refresh.token_urls[0]', 'must use https; plain http is allowed only for loopback hosts'],
  ['relative token URL', (p) => { refresh(p).token_urls = ['/oauth/token']; }, 'credentials[0].refresh.token_urls[0]', "token URL '/oauth/token' must be an absolute https URL"],
  ['token URL with another scheme', (p) => { refresh(p).token_urls = ['ftp://auth.example.com/token']; }, 'credentials[0].refresh.token_urls[0]', "token URL 'ftp://auth.example.com/token' must use https (got ftp)"],
  ['token URL with user info', (p) => { refresh(p).token_urls = ['https://user:hunter2@auth.example.com/token']; }, 'credentials[0].refresh.token_urls[0]', 'token URL must not carry a user name or password in the URL'],
  ['token URL with a fragment', (p) => { refresh(p).token_urls = ['https://auth.example.com/token#x']; }, 'credentials[0].refresh.token_urls[0]', 'must not have a #fragment'],
  ['duplicate token URL', (p) => { refresh(p).token_urls = ['https://a.example.com/t', 'https://a.example.com/t']; }, 'credentials[0].refresh.token_urls[1]', "duplicate token URL 'https://a.example.com/t'"],
  ['authorize_url over plain http', (p) => { refresh(p).authorize_url = 'http://auth.example.com/authorize'; }, 'credentials[0].refresh.authorize_url', "authorize_url 'http://auth.example.com/authorize' must use https"],
  ['relative redirect_uri', (p) => { refresh(p).redirect_uri = '/callback'; }, 'credentials[0].refresh.redirect_uri', "redirect_uri '/callback' must be an absolute URL"],
  ['plain http redirect_uri off loopback', (p) => { refresh(p).redirect_uri = 'http://example.com/cb'; }, 'credentials[0].refresh.redirect_uri', 'must use https, or http on a loopback host'],
  ['blank client_id', (p) => { refresh(p).client_id = ''; }, 'credentials[0].refresh.client_id', 'client_id must not be empty'],
  ['scope with a space', (p) => { refresh(p).scopes = ['a:read b:write']; }, 'credentials[0].refresh.scopes[0]', "scope 'a:read b:write' must be a single scope without spaces; list each scope as its own entry"],
  ['empty scope', (p) => { refresh(p).scopes = ['']; }, 'credentials[0].refresh.scopes[0]', 'scope must not be empty'],
  ['unknown request_encoding', (p) => { refresh(p).request_encoding = 'xml'; }, 'credentials[0].refresh.request_encoding', 'unknown request_encoding "xml"; use one of: json, form'],
  ['negative refresh_before_seconds', (p) => { refresh(p).refresh_before_seconds = -1; }, 'credentials[0].refresh.refresh_before_seconds', 'refresh_before_seconds must be 0 or more'],
  ['fractional refresh_before_seconds', (p) => { refresh(p).refresh_before_seconds = 1.5; }, 'credentials[0].refresh.refresh_before_seconds', 'refresh_before_seconds must be a whole number, got number 1.5'],
  ['zero max_lifetime_seconds', (p) => { refresh(p).max_lifetime_seconds = 0; }, 'credentials[0].refresh.max_lifetime_seconds', 'max_lifetime_seconds must be a positive number of seconds'],
  ['max_lifetime_seconds not above refresh_before_seconds', (p) => { refresh(p).max_lifetime_seconds = 300; }, 'credentials[0].refresh.max_lifetime_seconds', 'max_lifetime_seconds (300) must be greater than refresh_before_seconds (300)'],
  ['unknown discovery credential', (p) => { p.discovery.credentials = ['api_key', 'token']; }, 'discovery.credentials[1]', "unknown discovery credential 'token'; it must name a credential of this profile (known: api_key, tool_token)"],
  ['duplicate discovery credential', (p) => { p.discovery.credentials = ['api_key', 'api_key']; }, 'discovery.credentials[1]', "duplicate discovery credential 'api_key'"],
  ['empty discovery credential', (p) => { p.discovery.credentials = ['']; }, 'discovery.credentials[0]', 'discovery credential name must not be empty'],
  ['endpoint port 0', (p) => { p.endpoints[0]!.port = 0; }, 'endpoints[0].port', 'port must be between 1 and 65535'],
  ['endpoint port above 65535', (p) => { p.endpoints[0]!.port = 70000; }, 'endpoints[0].port', 'port must be between 1 and 65535'],
  ['fractional endpoint port', (p) => { p.endpoints[0]!.port = 443.5; }, 'endpoints[0].port', 'port must be a whole number between 1 and 65535'],
  ['endpoint port as a string', (p) => { p.endpoints[0]!.port = '443'; }, 'endpoints[0].port', "port must be a number, got the string '443'"],
  ['endpoint without port', (p) => void delete p.endpoints[0]!.port, 'endpoints[0].port', 'port is required; set the port, e.g. `port: 443`'],
  ['endpoint without host', (p) => void delete p.endpoints[0]!.host, 'endpoints[0].host', 'host is required'],
  ['endpoint host not lowercase', (p) => { p.endpoints[0]!.host = 'API.example.com'; }, 'endpoints[0].host', "endpoint host 'API.example.com' must be a lowercase DNS name"],
  ['endpoint host with a scheme', (p) => { p.endpoints[0]!.host = 'https://api.example.com'; }, 'endpoints[0].host', "endpoint host 'https://api.example.com' must be a lowercase DNS name"],
  ['unknown endpoint protocol', (p) => { p.endpoints[0]!.protocol = 'http'; }, 'endpoints[0].protocol', 'unknown protocol "http"; use one of: tcp, rest, websocket, graphql, sql, json-rpc, mcp'],
  ['duplicate endpoint', (p) => void p.endpoints.push({ host: 'api.example.com', port: 443 }), 'endpoints[1]', "duplicate endpoint 'api.example.com:443' (also endpoints[0])"],
  ['empty binary path', (p) => { p.binaries = ['']; }, 'binaries[0]', 'binary path must not be empty'],
  ['relative binary path', (p) => { p.binaries = ['bin/example']; }, 'binaries[0]', "binary path 'bin/example' must be absolute"],
  ['inference block on a non-inference profile', (p) => { p.inference_capable = false; }, 'inference', 'an inference block needs `inference_capable: true`'],
  ['required header name not lowercase', (p) => { p.inference.required_headers[0]!.name = 'X-Beta'; }, 'inference.required_headers[0].name', "header name 'X-Beta' must be a lowercase HTTP header name"],
  ['duplicate required header', (p) => void p.inference.required_headers.push({ name: 'x-beta', value: 'b', merge: 'list' }), 'inference.required_headers[1].name', "duplicate required header 'x-beta'"],
  ['required header with CR/LF', (p) => { p.inference.required_headers[0]!.value = 'a\r\nx-evil: 1'; }, 'inference.required_headers[0].value', 'header value must not contain CR, LF or NUL'],
  ['required header without value', (p) => void delete p.inference.required_headers[0]!.value, 'inference.required_headers[0].value', 'value is required; set the header value'],
  ['unknown merge rule', (p) => { p.inference.required_headers[0]!.merge = 'append'; }, 'inference.required_headers[0].merge', 'unknown merge "append"; use one of: list, replace'],
];

describe('validateProviderProfile', () => {
  it('accepts the base profile (every rule below breaks it in one place)', () => {
    const result = validateProviderProfile(base());
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
  });

  it.each(RULES)('rejects %s', (_name, mutate, path, message) => {
    const p = base();
    mutate(p);
    const result = validateProviderProfile(p);
    expect(result.ok).toBe(false);
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]!.path).toBe(path);
    expect(result.problems[0]!.message).toContain(message);
  });

  it.each([
    ['a string', 'openai'],
    ['a list', [{ id: 'x' }]],
    ['null', null],
  ])('rejects %s as a profile at the root', (_name, input) => {
    const result = validateProviderProfile(input);
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual([
      expect.objectContaining({ path: '(root)', message: expect.stringContaining('a provider profile must be a mapping of fields') }),
    ]);
  });

  it('collects every problem instead of stopping at the first', () => {
    const p = base();
    p.id = 'Bad Id';
    p.credentials[1]!.env_vars = ['EXAMPLE_API_KEY'];
    refresh(p).token_urls = ['http://auth.example.com/token'];
    p.endpoints[0]!.port = 0;
    p.discovery.credentials = ['nope'];
    const result = validateProviderProfile(p);
    expect(result.problems.map((x) => x.path).sort()).toEqual(
      ['credentials[0].refresh.token_urls[0]', 'credentials[1].env_vars[0]', 'discovery.credentials[0]', 'endpoints[0].port', 'id'].sort(),
    );
  });

  it.each([
    'http://127.0.0.1:8080/token',
    'http://127.45.6.7/token',
    'http://localhost:9999/token',
    'http://[::1]:9999/token',
    'https://auth.example.com/token',
  ])('accepts the token URL %s', (url) => {
    const p = base();
    refresh(p).token_urls = [url];
    expect(validateProviderProfile(p).problems).toEqual([]);
  });

  it('applies defaults for omitted optional fields', () => {
    const result = validateProviderProfile({
      id: 'minimal',
      display_name: 'Minimal',
      credentials: [
        {
          name: 'token',
          env_vars: ['MINIMAL_TOKEN'],
          refresh: { strategy: 'oauth2_refresh_token', token_urls: ['https://auth.example.com/t'] },
        },
      ],
    });
    if (!result.ok) throw new Error(result.problems.map(formatProfileProblem).join('\n'));
    expect(result.profile).toEqual({
      id: 'minimal',
      display_name: 'Minimal',
      description: '',
      category: 'other',
      inference_capable: false,
      experimental: false,
      credentials: [
        {
          name: 'token',
          env_vars: ['MINIMAL_TOKEN'],
          required: false,
          injectable: true,
          refresh: {
            strategy: 'oauth2_refresh_token',
            token_urls: ['https://auth.example.com/t'],
            scopes: [],
            request_encoding: 'form',
            refresh_before_seconds: 300,
          },
        },
      ],
      discovery: { credentials: [] },
      endpoints: [],
      binaries: [],
    });
    // Optional fields the YAML omitted are absent, not present-and-undefined.
    expect(Object.keys(result.profile.credentials[0]!)).not.toContain('auth_style');
    expect(Object.keys(result.profile)).not.toContain('inference');
  });

  it('does not echo a password from a token URL', () => {
    const p = base();
    refresh(p).token_urls = ['https://user:hunter2@auth.example.com/token'];
    const result = validateProviderProfile(p);
    expect(JSON.stringify(result.problems)).not.toContain('hunter2');
  });
});

describe('parseProviderProfile', () => {
  it('throws invalid_profile listing every problem with its source and path', () => {
    const p = base();
    p.id = 'Bad';
    p.endpoints[0]!.port = 0;
    let caught: unknown;
    try {
      parseProviderProfile(p, 'custom/bad.yaml');
    } catch (err) {
      caught = err;
    }
    expect(CoreError.isInstance(caught)).toBe(true);
    const err = caught as CoreError;
    expect(err.code).toBe('invalid_profile');
    expect(err.message).toContain('2 problems in provider profiles');
    expect(err.message).toContain("custom/bad.yaml: id: id 'Bad' must be lowercase kebab-case");
    expect(err.message).toContain('custom/bad.yaml: endpoints[0].port: port must be between 1 and 65535');
    const problems = err.details?.problems as Array<{ source: string; path: string }>;
    expect(problems.map((x) => [x.source, x.path])).toEqual([
      ['custom/bad.yaml', 'endpoints[0].port'],
      ['custom/bad.yaml', 'id'],
    ]);
  });

  it('returns the profile when it is valid', () => {
    expect(parseProviderProfile(base()).id).toBe('example');
  });
});

describe('validateProfileSet', () => {
  it('rejects a duplicate id naming both sources', () => {
    const { profiles, problems } = validateProfileSet([
      { source: 'a.yaml', profile: base() },
      { source: 'b.yaml', profile: base() },
    ]);
    expect(profiles.map((p) => p.id)).toEqual(['example']);
    expect(problems).toEqual([
      expect.objectContaining({
        source: 'b.yaml',
        path: 'id',
        message: "duplicate provider profile id 'example' (also defined in a.yaml); each id may appear once in a catalogue",
      }),
    ]);
  });

  it('sorts valid profiles by id and keeps problems of the others with their source', () => {
    const b = { ...base(), id: 'bbb' };
    const a = { ...base(), id: 'aaa' };
    const bad = { ...base(), id: 'ccc', category: 'nope' };
    const { profiles, problems } = validateProfileSet([
      { source: 'b.yaml', profile: b },
      { source: 'bad.yaml', profile: bad },
      { source: 'a.yaml', profile: a },
    ]);
    expect(profiles.map((p) => p.id)).toEqual(['aaa', 'bbb']);
    expect(problems.map((p) => [p.source, p.profileId, p.path])).toEqual([['bad.yaml', 'ccc', 'category']]);
  });

  it('parseProfileSet throws invalid_profile on any problem', () => {
    expect(() => parseProfileSet([{ source: 'x.yaml', profile: { id: 'x' } }])).toThrow(
      expect.objectContaining({ code: 'invalid_profile', message: expect.stringContaining('x.yaml: display_name: display_name is required') }),
    );
  });
});
