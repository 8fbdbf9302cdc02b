import { describe, expect, it } from 'vitest';
import { CoreError, parseRouteBundle, type RouteBundle } from './index.js';

function validBundle(): RouteBundle {
  return {
    schemaVersion: 1,
    revision: 'r1',
    routes: [
      {
        name: 'inference.local',
        providerName: 'claude-plan',
        providerType: 'anthropic-oauth',
        baseUrl: 'https://api.anthropic.com/v1',
        protocols: ['anthropic_messages', 'anthropic_count_tokens', 'model_discovery'],
        model: 'claude-sonnet-4-6',
        timeouts: { connectMs: 10_000, firstByteMs: 120_000, idleMs: 300_000 },
        auth: { style: 'bearer', headerName: 'authorization', value: 'sk-ant-oat01-test' },
        headerPolicy: {
          required: [{ name: 'anthropic-beta', value: 'oauth-2025-04-20', merge: 'list' }],
          defaults: { 'anthropic-version': '2023-06-01' },
          passthrough: ['anthropic-version', 'anthropic-beta', 'x-stainless-*'],
        },
        credential: { fingerprint: 'fp-abc', expiresAt: 1_900_000_000_000, refreshable: true },
        clientEnv: { ANTHROPIC_BASE_URL: 'https://inference.local' },
      },
    ],
    egress: [{ host: 'api.anthropic.com', port: 443 }],
  };
}

type Mutable = { [k: string]: unknown };
const route = (b: unknown) => ((b as { routes: Mutable[] }).routes[0] as Mutable & { auth: Mutable; headerPolicy: { required: Mutable[]; defaults: Mutable } });

function thrown(input: unknown): CoreError {
  try {
    parseRouteBundle(input);
  } catch (err) {
    if (CoreError.isInstance(err)) return err as CoreError;
    throw err;
  }
  throw new Error('parseRouteBundle accepted the input');
}

describe('parseRouteBundle', () => {
  it('accepts a valid bundle unchanged', () => {
    expect(parseRouteBundle(validBundle())).toEqual(validBundle());
  });

  // [case, mutation, code, message fragment]
  it.each([
    ['schemaVersion 2', (b: Mutable) => { b.schemaVersion = 2; }, 'unsupported_bundle', 'route bundle schemaVersion 2 is not supported by this supervisor (it understands 1); upgrade the supervisor'],
    ['schemaVersion "1" as a string', (b: Mutable) => { b.schemaVersion = '1'; }, 'unsupported_bundle', 'schemaVersion "1" is not supported'],
    ['missing schemaVersion', (b: Mutable) => void delete b.schemaVersion, 'unsupported_bundle', 'schemaVersion undefined is not supported'],
    ['unknown auth style', (b: Mutable) => { route(b).auth.style = 'sigv4'; }, 'unsupported_bundle', "route 'inference.local' uses auth style 'sigv4', which this supervisor does not understand (known: bearer, header, none)"],
    ['unknown merge rule', (b: Mutable) => { route(b).headerPolicy.required[0]!.merge = 'append'; }, 'unsupported_bundle', "route 'inference.local' requires header 'anthropic-beta' with merge rule 'append', which this supervisor does not understand (known: list, replace)"],
    ['CR/LF in the auth value', (b: Mutable) => { route(b).auth.value = 'tok\r\nx-evil: 1'; }, 'invalid_bundle', 'routes[0].auth.value: must not contain CR, LF or NUL'],
    ['LF in a required header value', (b: Mutable) => { route(b).headerPolicy.required[0]!.value = 'a\nb'; }, 'invalid_bundle', 'routes[0].headerPolicy.required[0].value: must not contain CR, LF or NUL'],
    ['CR in a default header value', (b: Mutable) => { route(b).headerPolicy.defaults['anthropic-version'] = '2023\r'; }, 'invalid_bundle', 'must not contain CR, LF or NUL'],
    ['NUL in a header value', (b: Mutable) => { route(b).auth.value = 'a\0b'; }, 'invalid_bundle', 'routes[0].auth.value: must not contain CR, LF or NUL'],
    ['uppercase required header name', (b: Mutable) => { route(b).headerPolicy.required[0]!.name = 'Anthropic-Beta'; }, 'invalid_bundle', 'routes[0].headerPolicy.required[0].name: must be a lowercase HTTP header token'],
    ['a relative base URL', (b: Mutable) => { route(b).baseUrl = '/v1'; }, 'invalid_bundle', 'routes[0].baseUrl'],
    ['a non-http base URL', (b: Mutable) => { route(b).baseUrl = 'ftp://api.anthropic.com/v1'; }, 'invalid_bundle', 'routes[0].baseUrl'],
    ['a malformed base URL', (b: Mutable) => { route(b).baseUrl = 'https://'; }, 'invalid_bundle', 'routes[0].baseUrl'],
    ['no protocols', (b: Mutable) => { route(b).protocols = []; }, 'invalid_bundle', 'routes[0].protocols'],
    ['an egress port out of range', (b: Mutable) => { (b.egress as Mutable[])[0]!.port = 70000; }, 'invalid_bundle', 'egress[0].port'],
    ['a zero timeout', (b: Mutable) => { (route(b).timeouts as Mutable).connectMs = 0; }, 'invalid_bundle', 'routes[0].timeouts.connectMs'],
    ['a bad clientEnv key', (b: Mutable) => { route(b).clientEnv = { 'BAD-KEY': 'x' }; }, 'invalid_bundle', 'routes[0].clientEnv'],
    ['an empty revision', (b: Mutable) => { b.revision = ''; }, 'invalid_bundle', 'revision'],
  ])('rejects %s', (_name, mutate, code, message) => {
    const b = validBundle() as unknown as Mutable;
    mutate(b);
    const err = thrown(b);
    expect(err.code).toBe(code);
    expect(err.message).toContain(message);
  });

  it.each([
    ['a fixed path', '/v1/projects/p/locations/l/publishers/anthropic/models/m:rawPredict'],
    ['a Vertex method suffix', ':rawPredict'],
  ])('accepts requestPathOverride as %s', (_name, override) => {
    const b = validBundle();
    const route0 = { ...b.routes[0]!, modelInPath: true, requestPathOverride: override };
    expect(parseRouteBundle({ ...b, routes: [route0] }).routes[0]!.requestPathOverride).toBe(override);
  });

  it.each([['rawPredict'], [''], [':raw Predict'], ['/x?y=1'], ['/x#f']])('rejects requestPathOverride %j', (override) => {
    const b = validBundle() as unknown as Mutable;
    route(b).requestPathOverride = override;
    const err = thrown(b);
    expect(err.code).toBe('invalid_bundle');
    expect(err.message).toContain("routes[0].requestPathOverride: must start with '/' (a path) or ':'");
  });

  it.each([
    ['null', null],
    ['an array', []],
    ['a string', '{}'],
  ])('rejects %s as invalid_bundle', (_name, input) => {
    const err = thrown(input);
    expect(err.code).toBe('invalid_bundle');
    expect(err.message).toBe('route bundle must be a JSON object');
  });

  it('never echoes the credential in an error message', () => {
    const b = validBundle() as unknown as Mutable;
    route(b).auth.value = 'sk-ant-oat01-secret\nvalue';
    const err = thrown(b);
    expect(err.message).not.toContain('sk-ant-oat01-secret');
    expect(JSON.stringify(err.details)).not.toContain('sk-ant-oat01-secret');
  });

  it('lists every problem at once', () => {
    const b = validBundle() as unknown as Mutable;
    route(b).baseUrl = 'nope';
    (b.egress as Mutable[])[0]!.port = 0;
    const err = thrown(b);
    expect(err.details?.problems).toHaveLength(2);
  });
});
