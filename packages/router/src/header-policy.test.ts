import { describe, expect, it } from 'vitest';
import { RouterError } from './errors.js';
import {
  buildUpstreamHeaders,
  compileHeaderPolicy,
  filterResponseHeaders,
  headerPolicyFor,
  mergeListHeader,
} from './header-policy.js';
import { TEST_OAUTH_TOKEN, anthropicKeyRoute, linesOf, namesOf, oauthRoute, openaiRoute } from './testing-fixtures/routes.js';

const route = oauthRoute('https://api.anthropic.com/v1');
const CLAUDE_CODE_BETAS = 'claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27';

function catchError(fn: () => unknown): RouterError {
  try {
    fn();
  } catch (err) {
    if (RouterError.isRouterError(err)) return err;
    throw err;
  }
  throw new Error('expected a RouterError');
}

describe('mergeListHeader', () => {
  it.each([
    { name: 'no client value', client: [], want: 'oauth-2025-04-20' },
    { name: "Claude Code's real betas", client: [CLAUDE_CODE_BETAS], want: `${CLAUDE_CODE_BETAS},oauth-2025-04-20` },
    { name: 'flag already present: no duplicate', client: ['a-1,oauth-2025-04-20,b-2'], want: 'a-1,oauth-2025-04-20,b-2' },
    // The upstream compares tokens case-sensitively: a client's case variant must not displace ours.
    { name: 'flag present in another case: the required spelling, at the client position', client: ['a-1,OAuth-2025-04-20,b-2'], want: 'a-1,oauth-2025-04-20,b-2' },
    { name: 'several case variants of the flag: one, in the required spelling', client: ['OAUTH-2025-04-20, Oauth-2025-04-20', 'oauth-2025-04-20'], want: 'oauth-2025-04-20' },
    { name: 'two lines become one', client: ['a-1', 'b-2, a-1'], want: 'a-1,b-2,oauth-2025-04-20' },
    { name: 'spaces and empty items', client: [' a-1 , ,b-2,, '], want: 'a-1,b-2,oauth-2025-04-20' },
    { name: 'empty client value', client: [''], want: 'oauth-2025-04-20' },
    { name: 'case-insensitive de-duplication keeps first spelling', client: ['X-1,x-1,X-1'], want: 'X-1,oauth-2025-04-20' },
  ])('$name', ({ client, want }) => {
    expect(mergeListHeader(client, 'oauth-2025-04-20')).toBe(want);
  });

  it('appends several required tokens in their order', () => {
    expect(mergeListHeader(['b'], 'a, b ,c')).toBe('b,a,c');
  });

  it('keeps the required spelling of every required token the client sent in another case', () => {
    expect(mergeListHeader(['B,x'], 'a, b ,c')).toBe('b,x,a,c');
  });

  it('a long list (past the linear look-up) is de-duplicated the same way, in order', () => {
    const many = Array.from({ length: 100 }, (_, i) => `t-${i % 50}`);
    const upper = many.map((t) => t.toUpperCase());
    const want = `${Array.from({ length: 50 }, (_, i) => `t-${i}`).join(',')},oauth-2025-04-20`;
    expect(mergeListHeader([many.join(','), upper.join(', '), 'OAUTH-2025-04-20'], 'oauth-2025-04-20')).toBe(want);
  });
});

describe('buildUpstreamHeaders: stripping', () => {
  it.each(['authorization', 'Authorization', 'AUTHORIZATION', 'aUtHoRiZaTiOn'])('drops client %s and sends only the route bearer', (name) => {
    const out = buildUpstreamHeaders([name, 'Bearer client-chosen', 'content-type', 'application/json'], route);
    expect(linesOf(out, 'authorization')).toEqual([`Bearer ${TEST_OAUTH_TOKEN}`]);
  });

  it.each(['x-api-key', 'X-Api-Key', 'X-API-KEY', 'proxy-authorization', 'Proxy-Authorization', 'host', 'Host', 'content-length', 'Content-Length'])(
    'drops every case variant of %s',
    (name) => {
      const out = buildUpstreamHeaders([name, 'client-value', 'accept', '*/*'], route);
      expect(namesOf(out)).not.toContain(name.toLowerCase());
      expect(out).not.toContain('client-value');
    },
  );

  it('drops several authorization lines in mixed case and emits exactly one', () => {
    const out = buildUpstreamHeaders(['Authorization', 'Bearer a', 'authorization', 'Bearer b', 'X-Api-Key', 'k1', 'x-api-key', 'k2'], route);
    expect(linesOf(out, 'authorization')).toEqual([`Bearer ${TEST_OAUTH_TOKEN}`]);
    expect(linesOf(out, 'x-api-key')).toEqual([]);
  });

  it('drops hop-by-hop headers and the names connection lists, even when the route passes them through', () => {
    const r = oauthRoute('https://api.anthropic.com/v1', {
      headerPolicy: { ...route.headerPolicy, passthrough: [...route.headerPolicy.passthrough, 'x-hop'] },
    });
    const out = buildUpstreamHeaders(
      [
        'Connection',
        'keep-alive, X-Hop',
        'Keep-Alive',
        'timeout=5',
        'TE',
        'trailers',
        'Transfer-Encoding',
        'chunked',
        'Upgrade',
        'h2c',
        'Proxy-Connection',
        'keep-alive',
        'Trailer',
        'x',
        'Expect',
        '100-continue',
        'x-hop',
        'nominated',
        'x-app',
        'cli',
      ],
      r,
    );
    expect(namesOf(out)).toEqual(['x-app', 'anthropic-beta', 'anthropic-version', 'authorization']);
  });

  it('keeps only allow-listed client headers (common set, exact passthrough, prefix passthrough)', () => {
    const out = buildUpstreamHeaders(
      [
        'Content-Type',
        'application/json',
        'Accept',
        'application/json',
        'Accept-Encoding',
        'gzip',
        'User-Agent',
        'claude-cli/2.1.0 (external, cli)',
        'Cookie',
        'session=1',
        'X-Stainless-Lang',
        'js',
        'x-stainless-os',
        'Linux',
        'x-stainlessfake',
        'no',
        'X-App',
        'cli',
        'X-Claude-Code-Session-Id',
        'abc',
        'x-amz-security-token',
        'no',
      ],
      route,
    );
    expect(namesOf(out)).toEqual([
      'content-type',
      'accept',
      'accept-encoding',
      'user-agent',
      'x-stainless-lang',
      'x-stainless-os',
      'x-app',
      'x-claude-code-session-id',
      'anthropic-beta',
      'anthropic-version',
      'authorization',
    ]);
  });
});

describe('buildUpstreamHeaders: required, defaults, auth', () => {
  it("merges Claude Code's anthropic-beta with the oauth flag into one line", () => {
    const out = buildUpstreamHeaders(['anthropic-beta', CLAUDE_CODE_BETAS], route);
    expect(linesOf(out, 'anthropic-beta')).toEqual([`${CLAUDE_CODE_BETAS},oauth-2025-04-20`]);
  });

  it('folds duplicates the same way in a long header list (past the linear look-up)', () => {
    const raw: string[] = [];
    for (let i = 0; i < 80; i++) raw.push(i % 2 === 0 ? 'Anthropic-Beta' : 'anthropic-version', i % 2 === 0 ? `b-${i % 6}` : `v-${i}`);
    const out = buildUpstreamHeaders(raw, route);
    expect(linesOf(out, 'anthropic-beta')).toEqual(['b-0,b-2,b-4,oauth-2025-04-20']);
    expect(linesOf(out, 'anthropic-version')).toEqual(['v-1']);
    expect(namesOf(out).filter((n) => n === 'anthropic-beta' || n === 'anthropic-version')).toHaveLength(2);
  });

  it('merges several client lines in several cases into exactly one line', () => {
    const out = buildUpstreamHeaders(['Anthropic-Beta', 'a-1', 'anthropic-beta', 'b-2', 'ANTHROPIC-BETA', 'oauth-2025-04-20,a-1'], route);
    expect(linesOf(out, 'anthropic-beta')).toEqual(['a-1,b-2,oauth-2025-04-20']);
  });

  it('adds the required header when the client sent none, and a client cannot remove it', () => {
    for (const attempt of [
      [],
      ['anthropic-beta', ''],
      ['anthropic-beta', ' , '],
      ['Connection', 'anthropic-beta', 'anthropic-beta', 'x'],
      ['anthropic-beta', 'OAUTH-2025-04-20'],
      ['Anthropic-Beta', 'Oauth-2025-04-20, a-1', 'anthropic-beta', 'oauth-2025-04-20'],
    ]) {
      const out = buildUpstreamHeaders(attempt, route);
      const lines = linesOf(out, 'anthropic-beta');
      expect(lines).toHaveLength(1);
      expect(lines[0]?.split(',')).toContain('oauth-2025-04-20');
    }
  });

  it('replace rule: our value, the client lines dropped', () => {
    const r = openaiRoute('https://api.openai.com/v1', {
      headerPolicy: { required: [{ name: 'openai-beta', value: 'assistants=v2', merge: 'replace' }], defaults: {}, passthrough: ['openai-beta'] },
    });
    const out = buildUpstreamHeaders(['OpenAI-Beta', 'mine', 'openai-beta', 'other'], r);
    expect(linesOf(out, 'openai-beta')).toEqual(['assistants=v2']);
  });

  it('default headers only when the client sent none (the client wins, any case)', () => {
    expect(linesOf(buildUpstreamHeaders([], route), 'anthropic-version')).toEqual(['2023-06-01']);
    expect(linesOf(buildUpstreamHeaders(['Anthropic-Version', '2024-10-22'], route), 'anthropic-version')).toEqual(['2024-10-22']);
  });

  it('header auth style: the route key in x-api-key, client x-api-key and authorization gone', () => {
    const out = buildUpstreamHeaders(['x-api-key', 'client', 'Authorization', 'Bearer client'], anthropicKeyRoute('https://api.anthropic.com/v1'));
    expect(linesOf(out, 'x-api-key')).toEqual(['sk-ant-api03-TEST-ONLY-key']);
    expect(linesOf(out, 'authorization')).toEqual([]);
  });

  it('auth style none: no credential header, client auth still stripped', () => {
    const r = openaiRoute('http://127.0.0.1:1/v1', { auth: { style: 'none', value: '' } });
    const out = buildUpstreamHeaders(['authorization', 'Bearer x'], r);
    expect(namesOf(out)).toEqual([]);
  });

  it('auth comes last and names are unique and lowercase', () => {
    const out = buildUpstreamHeaders(['X-App', 'cli', 'x-app', 'again', 'Accept', 'a', 'ACCEPT', 'b'], route);
    const names = namesOf(out);
    expect(names.at(-1)).toBe('authorization');
    expect(new Set(names).size).toBe(names.length);
    expect(linesOf(out, 'x-app')).toEqual(['cli, again']);
    expect(linesOf(out, 'accept')).toEqual(['a, b']);
  });

  it('singleton fields keep the first client line', () => {
    const out = buildUpstreamHeaders(['content-type', 'application/json', 'Content-Type', 'text/plain'], route);
    expect(linesOf(out, 'content-type')).toEqual(['application/json']);
  });

  it('never emits a duplicate name or loses the flag, over many generated client header sets', () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const names = ['Authorization', 'x-api-key', 'Anthropic-Beta', 'anthropic-beta', 'anthropic-version', 'X-App', 'connection', 'host', 'x-stainless-os', 'cookie'];
    const values = ['a', 'b,c', '', 'oauth-2025-04-20', 'OAUTH-2025-04-20', 'anthropic-beta', 'x-app'];
    for (let round = 0; round < 300; round++) {
      const raw: string[] = [];
      const count = rand(8);
      for (let i = 0; i < count; i++) raw.push(names[rand(names.length)] as string, values[rand(values.length)] as string);
      const out = buildUpstreamHeaders(raw, route);
      const outNames = namesOf(out);
      expect(new Set(outNames).size).toBe(outNames.length);
      expect(linesOf(out, 'authorization')).toEqual([`Bearer ${TEST_OAUTH_TOKEN}`]);
      expect(linesOf(out, 'anthropic-beta')[0]?.split(',')).toContain('oauth-2025-04-20');
      expect(outNames).not.toContain('x-api-key');
      expect(outNames).not.toContain('host');
      expect(outNames).not.toContain('cookie');
    }
  });
});

describe('buildUpstreamHeaders: refusals', () => {
  it.each([
    ['CR', 'a\rb'],
    ['LF', 'a\nb'],
    ['CRLF injection', 'x\r\nX-Injected: 1'],
    ['NUL', 'a\0b'],
  ])('refuses a value with %s as invalid_header_value (400), without echoing the value', (_name, value) => {
    const err = catchError(() => buildUpstreamHeaders(['x-app', 'cli', 'anthropic-beta', value], route));
    expect(err.code).toBe('invalid_header_value');
    expect(err.status).toBe(400);
    expect(err.message).toContain('anthropic-beta');
    expect(err.message).not.toContain(value);
  });

  it('refuses control characters even in headers that would be dropped', () => {
    expect(catchError(() => buildUpstreamHeaders(['cookie', 'a\nb'], route)).code).toBe('invalid_header_value');
  });

  it('refuses an invalid header name', () => {
    expect(catchError(() => buildUpstreamHeaders(['bad name', 'x'], route)).code).toBe('invalid_header_name');
  });
});

describe('compileHeaderPolicy', () => {
  it('refuses a credential with CR/LF without putting it in the message', () => {
    const secret = 'tok\r\nX-Evil: 1';
    const bad = { ...route, auth: { ...route.auth, value: secret } };
    const err = catchError(() => compileHeaderPolicy(bad));
    expect(err.code).toBe('invalid_route');
    expect(err.message).not.toContain('tok');
  });

  it('refuses an empty credential for bearer and header auth', () => {
    expect(catchError(() => compileHeaderPolicy({ ...route, auth: { ...route.auth, value: '' } })).message).toContain('no credential value');
  });

  it('refuses an unknown auth style and an unknown merge rule (fail closed)', () => {
    const badAuth = { ...route, auth: { ...route.auth, style: 'mtls' } } as unknown as typeof route;
    expect(catchError(() => compileHeaderPolicy(badAuth)).code).toBe('invalid_route');
    const badMerge = {
      ...route,
      headerPolicy: { ...route.headerPolicy, required: [{ name: 'anthropic-beta', value: 'x', merge: 'union' }] },
    } as unknown as typeof route;
    expect(catchError(() => compileHeaderPolicy(badMerge)).message).toContain("merge rule 'union'");
  });

  it('refuses a required or default header that the router reserves', () => {
    const r1 = { ...route, headerPolicy: { ...route.headerPolicy, required: [{ name: 'authorization', value: 'x', merge: 'replace' as const }] } };
    expect(catchError(() => compileHeaderPolicy(r1)).code).toBe('invalid_route');
    const r2 = { ...route, headerPolicy: { ...route.headerPolicy, defaults: { host: 'evil' } } };
    expect(catchError(() => compileHeaderPolicy(r2)).code).toBe('invalid_route');
  });

  it('ignores passthrough entries naming auth headers', () => {
    const r = { ...route, headerPolicy: { ...route.headerPolicy, passthrough: ['authorization', 'x-api-key'] } };
    const out = buildUpstreamHeaders(['x-api-key', 'client', 'authorization', 'Bearer client'], r);
    expect(linesOf(out, 'x-api-key')).toEqual([]);
    expect(linesOf(out, 'authorization')).toEqual([`Bearer ${TEST_OAUTH_TOKEN}`]);
  });

  it('compiles once per route object', () => {
    expect(headerPolicyFor(route)).toBe(headerPolicyFor(route));
  });
});

describe('filterResponseHeaders', () => {
  it('drops hop-by-hop and connection-listed headers, keeps the rest with duplicates and case', () => {
    const raw = [
      'Content-Type',
      'text/event-stream',
      'Connection',
      'keep-alive, X-Hop',
      'Transfer-Encoding',
      'chunked',
      'Keep-Alive',
      'timeout=5',
      'X-Hop',
      'x',
      'Set-Cookie',
      'a=1',
      'Set-Cookie',
      'b=2',
      'request-id',
      'req_1',
      'anthropic-ratelimit-unified-status',
      'allowed',
    ].map((s) => Buffer.from(s, 'latin1'));
    expect(filterResponseHeaders(raw)).toEqual([
      'Content-Type',
      'text/event-stream',
      'Set-Cookie',
      'a=1',
      'Set-Cookie',
      'b=2',
      'request-id',
      'req_1',
      'anthropic-ratelimit-unified-status',
      'allowed',
    ]);
  });
});

describe('@openshell/router/headers stays free of undici and Node-only modules', () => {
  it('the module graph of header-policy.ts imports no undici and no node: module', async () => {
    const { readFileSync } = await import('node:fs');
    const { fileURLToPath } = await import('node:url');
    const dir = fileURLToPath(new URL('.', import.meta.url));
    const seen = new Set<string>();
    const external: string[] = [];
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(`${dir}/${file}`, 'utf8');
      for (const m of text.matchAll(/^\s*(?:import|export)[^'"]*from\s+'([^']+)'/gm)) {
        const spec = m[1] as string;
        if (spec.startsWith('./')) visit(spec.slice(2).replace(/\.js$/, '.ts'));
        else external.push(spec);
      }
    };
    visit('header-policy.ts');
    expect(seen.size).toBeGreaterThan(1);
    expect(external.filter((s) => s === 'undici' || s.startsWith('node:'))).toEqual([]);
  });
});
