import { randomBytes } from 'node:crypto';
import { hashToken, tokenHashEquals } from './crypto/index.js';

/** Prefix of admin tokens (`osa_…`): lets secret scanners and humans recognise them. */
export const ADMIN_TOKEN_PREFIX = 'osa_';
/** Prefix of sandbox tokens (`oss_…`). */
export const SANDBOX_TOKEN_PREFIX = 'oss_';

/** A fresh token: prefix + 32 random bytes, base64url. */
export function generateToken(prefix: string): string {
  return `${prefix}${randomBytes(32).toString('base64url')}`;
}

export { hashToken };

/** Constant-time comparison of a presented token with a stored hash. */
export function tokenMatchesHash(token: string, storedHash: string): boolean {
  return tokenHashEquals(hashToken(token), storedHash);
}

/** The bearer token of an `Authorization` header value, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m?.[1];
}
