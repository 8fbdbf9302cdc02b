import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CliError } from './cli-error.js';
import { buildAuthorizeUrl, createPkceSession, parsePastedCode, pkceChallenge } from './pkce.js';

describe('PKCE', () => {
  it('derives the S256 challenge as base64url(sha256(verifier)) without padding', () => {
    // RFC 7636 appendix B
    expect(pkceChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
    const s = createPkceSession();
    expect(s.verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(s.challenge).toBe(createHash('sha256').update(s.verifier).digest('base64url'));
    expect(s.state).not.toBe(createPkceSession().state);
  });

  it('builds the authorize URL with the profile values and the challenge, never the verifier', () => {
    const s = createPkceSession();
    const url = new URL(
      buildAuthorizeUrl(
        { authorizeUrl: 'https://claude.example/oauth/authorize', clientId: 'cid', redirectUri: 'https://platform.example/oauth/code/callback', scopes: ['user:inference', 'user:profile'] },
        s,
      ),
    );
    expect(Object.fromEntries(url.searchParams)).toEqual({
      code: 'true',
      client_id: 'cid',
      response_type: 'code',
      redirect_uri: 'https://platform.example/oauth/code/callback',
      scope: 'user:inference user:profile',
      code_challenge: s.challenge,
      code_challenge_method: 'S256',
      state: s.state,
    });
    expect(url.toString()).not.toContain(s.verifier);
  });

  const cases: Array<[string, string, string | RegExp]> = [
    ['code#state', 'state', 'code'],
    ['  code#state \n', 'state', 'code'],
    ['https://x.example/cb?code=abc&state=state', 'state', 'abc'],
    ['code#other', 'state', /does not match/],
    ['code', 'state', /no state/],
    ['#state', 'state', /no authorization code/],
  ];
  for (const [pasted, expected, result] of cases) {
    it(`parses ${JSON.stringify(pasted)}`, () => {
      if (typeof result === 'string') expect(parsePastedCode(pasted, expected)).toBe(result);
      else {
        let err: unknown;
        try {
          parsePastedCode(pasted, expected);
        } catch (e) {
          err = e;
        }
        expect(CliError.isInstance(err)).toBe(true);
        expect((err as Error).message).toMatch(result);
      }
    });
  }
});
