import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** User name the child sends in the proxy URL; only the nonce is secret. */
export const PROXY_USER = 'sandbox';

/**
 * The per-run proxy secret: a random nonce the child gets inside its proxy URL and sends back as
 * `Proxy-Authorization: Basic` on every request. It is not a credential for anything but this
 * run's proxy, so it may sit in the child's environment; it is never logged.
 */
export interface ProxyAuth {
  /** `http://sandbox:<nonce>@host:port` for the child's proxy variables. */
  proxyUrl(host: string, port: number): string;
  /** True when a `Proxy-Authorization` header value carries this run's nonce (timing-safe). */
  check(header: string | readonly string[] | undefined): boolean;
  /** True when `candidate` is the nonce itself (timing-safe); used for relay preambles. */
  checkNonce(candidate: string): boolean;
  /** The nonce, for the in-namespace relay only (handed over on a descriptor, never argv or env). */
  revealNonce(): string;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Creates a fresh per-run proxy secret (128 bits, hex). */
export function createProxyAuth(nonce: string = randomBytes(16).toString('hex')): ProxyAuth {
  const expected = digest(nonce);
  const matches = (candidate: string): boolean => timingSafeEqual(digest(candidate), expected);
  return {
    proxyUrl: (host, port) => `http://${PROXY_USER}:${nonce}@${host.includes(':') ? `[${host}]` : host}:${port}`,
    check(header) {
      // A repeated header is an attempt to confuse: refuse it.
      if (typeof header !== 'string') return false;
      const m = /^\s*basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
      if (m === null) return false;
      const decoded = Buffer.from(m[1] ?? '', 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon === -1) return false;
      // The user part is not secret; compare the password without an early exit.
      return matches(decoded.slice(colon + 1)) && decoded.slice(0, colon) === PROXY_USER;
    },
    checkNonce: matches,
    revealNonce: () => nonce,
  };
}
