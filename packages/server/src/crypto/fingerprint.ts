import { createHash, timingSafeEqual } from 'node:crypto';

const FINGERPRINT_DOMAIN = 'openshell:credential-fingerprint:v1\0';
const TOKEN_DOMAIN = 'openshell:token-hash:v1\0';

/**
 * A short non-reversible fingerprint of a secret (12 hex chars of a domain-separated SHA-256), so
 * API responses can show `"REDACTED"` plus something that tells two values apart. Stable across
 * gateways and restarts (no key involved): the same token always has the same fingerprint.
 */
export function fingerprintSecret(value: string): string {
  return createHash('sha256').update(FINGERPRINT_DOMAIN).update(value, 'utf8').digest('hex').slice(0, 12);
}

/** The hash under which an admin or sandbox bearer token is stored (hex SHA-256, domain-separated). */
export function hashToken(token: string): string {
  return createHash('sha256').update(TOKEN_DOMAIN).update(token, 'utf8').digest('hex');
}

/** Constant-time comparison of two token hashes (hex strings). */
export function tokenHashEquals(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}
