import { createHash, randomBytes } from 'node:crypto';
import { CliError } from './cli-error.js';

/** A PKCE pair (RFC 7636, S256) plus the anti-CSRF state. The verifier is a secret. */
export interface PkceSession {
  readonly verifier: string;
  readonly challenge: string;
  readonly state: string;
}

/** base64url without padding. */
function b64url(buf: Buffer): string {
  return buf.toString('base64url');
}

/** The S256 challenge of a verifier. */
export function pkceChallenge(verifier: string): string {
  return b64url(createHash('sha256').update(verifier).digest());
}

/** New random verifier (43 chars from 32 bytes), its S256 challenge, and a random state. */
export function createPkceSession(random: (n: number) => Buffer = randomBytes): PkceSession {
  const verifier = b64url(random(32));
  return { verifier, challenge: pkceChallenge(verifier), state: b64url(random(32)) };
}

/** What the authorize URL needs from the profile. */
export interface AuthorizeParams {
  readonly authorizeUrl: string;
  readonly clientId: string;
  readonly redirectUri: string;
  readonly scopes: readonly string[];
}

/** The URL the user opens to sign in (Claude Code's manual-redirect form, `code=true`). */
export function buildAuthorizeUrl(params: AuthorizeParams, session: PkceSession): string {
  const url = new URL(params.authorizeUrl);
  url.searchParams.set('code', 'true');
  url.searchParams.set('client_id', params.clientId);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('redirect_uri', params.redirectUri);
  url.searchParams.set('scope', params.scopes.join(' '));
  url.searchParams.set('code_challenge', session.challenge);
  url.searchParams.set('code_challenge_method', 'S256');
  url.searchParams.set('state', session.state);
  return url.toString();
}

/**
 * Parses what the user pasted back: `code#state` (the manual-redirect page's format), or the full callback
 * URL with `code` and `state` query parameters. Checks the state against the session's.
 */
export function parsePastedCode(pasted: string, expectedState: string): string {
  const text = pasted.trim();
  let code: string | undefined;
  let state: string | undefined;
  if (/^https?:\/\//.test(text)) {
    try {
      const u = new URL(text);
      code = u.searchParams.get('code') ?? undefined;
      state = u.searchParams.get('state') ?? (u.hash ? u.hash.slice(1) : undefined);
    } catch {
      code = undefined;
    }
  } else {
    const hash = text.indexOf('#');
    code = hash === -1 ? text : text.slice(0, hash);
    state = hash === -1 ? undefined : text.slice(hash + 1);
  }
  if (!code) {
    throw new CliError('oauth_code_missing', 'no authorization code was pasted', {
      hint: 'Paste the whole `code#state` value shown after signing in, then press Enter.',
    });
  }
  if (state === undefined || state === '') {
    throw new CliError('oauth_state_missing', 'the pasted value has no state (expected `code#state`)', {
      hint: 'Copy the whole value shown after signing in, including the part after `#`.',
    });
  }
  if (state !== expectedState) {
    throw new CliError('oauth_state_mismatch', 'the pasted state does not match this login attempt', {
      hint: 'The code belongs to another sign-in. Run the command again and use the URL it prints.',
    });
  }
  return code;
}
