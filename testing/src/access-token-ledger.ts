/** What the fake Anthropic API thinks of a bearer token. */
export type AccessTokenStatus = 'valid' | 'expired' | 'revoked' | 'unknown';

/**
 * The set of access tokens a fake Anthropic API accepts. The fake token endpoint writes to it
 * (issue on login/refresh, revoke on rotation); tests may write to it directly.
 */
export interface AccessTokenLedger {
  /** Accepts `token` until `expiresAt` (epoch ms; omitted = never expires). */
  allow(token: string, expiresAt?: number): void;
  /** Marks `token` revoked (as a rotation does to the previous access token). */
  revoke(token: string): void;
  /** Makes `token` expired now (for "the access token expires mid-session"). */
  expire(token: string): void;
  status(token: string): AccessTokenStatus;
  /** Tokens currently valid. */
  validTokens(): string[];
}

interface Entry {
  expiresAt: number | undefined;
  revoked: boolean;
  forcedExpired: boolean;
}

/** Creates an in-memory ledger; `now` is the clock used for expiry (default Date.now). */
export function createAccessTokenLedger(now: () => number = Date.now): AccessTokenLedger {
  const entries = new Map<string, Entry>();
  const status = (token: string): AccessTokenStatus => {
    const entry = entries.get(token);
    if (entry === undefined) return 'unknown';
    if (entry.revoked) return 'revoked';
    if (entry.forcedExpired || (entry.expiresAt !== undefined && now() >= entry.expiresAt)) return 'expired';
    return 'valid';
  };
  return {
    allow(token, expiresAt) {
      entries.set(token, { expiresAt, revoked: false, forcedExpired: false });
    },
    revoke(token) {
      const entry = entries.get(token);
      if (entry) entry.revoked = true;
      else entries.set(token, { expiresAt: undefined, revoked: true, forcedExpired: false });
    },
    expire(token) {
      const entry = entries.get(token);
      if (entry) entry.forcedExpired = true;
      else entries.set(token, { expiresAt: undefined, revoked: false, forcedExpired: true });
    },
    status,
    validTokens() {
      return [...entries.keys()].filter((token) => status(token) === 'valid');
    },
  };
}
