/** The parts of a WHATWG URL these rules read (declared here: core's main entry has no DOM or Node types). */
interface ParsedUrl {
  readonly protocol: string;
  readonly hostname: string;
  readonly username: string;
  readonly password: string;
  readonly hash: string;
}

const UrlCtor = (globalThis as unknown as { URL: new (input: string) => ParsedUrl }).URL;

/** Parses an absolute URL with the runtime's WHATWG parser; undefined for a relative or malformed one. */
export function parseAbsoluteUrl(input: string): ParsedUrl | undefined {
  try {
    return new UrlCtor(input);
  } catch {
    return undefined;
  }
}

/**
 * Whether a URL hostname (as the WHATWG parser normalizes it) is a loopback host: `localhost`,
 * 127.0.0.0/8, `::1` or an IPv4-mapped 127.0.0.0/8 address.
 */
export function isLoopbackHostname(hostname: string): boolean {
  const h = hostname.toLowerCase();
  if (h === 'localhost' || h === '[::1]' || h === '::1') return true;
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)) return true;
  // The parser writes ::ffff:127.0.0.1 as [::ffff:7f00:1].
  return /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(h);
}

/**
 * Checks a URL the gateway will send credentials to (token endpoint, authorize URL): absolute, https
 * (http only for a loopback host), no user info, no fragment. Returns what is wrong and how to fix it,
 * or undefined when the URL is acceptable. `label` names the field in the message.
 */
export function checkCredentialUrl(label: string, input: string): string | undefined {
  const url = parseAbsoluteUrl(input);
  if (url !== undefined && (url.username !== '' || url.password !== '')) {
    // The URL itself is not echoed: it holds what may be a password.
    return `${label} must not carry a user name or password in the URL; put credentials in the provider, not the profile`;
  }
  if (url === undefined) {
    return `${label} '${input}' must be an absolute https URL, e.g. https://auth.example.com/oauth/token`;
  }
  if (url.protocol === 'http:') {
    if (!isLoopbackHostname(url.hostname)) {
      return `${label} '${input}' must use https; plain http is allowed only for loopback hosts (127.0.0.0/8, ::1, localhost)`;
    }
  } else if (url.protocol !== 'https:') {
    return `${label} '${input}' must use https (got ${url.protocol.replace(/:$/, '')})`;
  }
  if (url.hash !== '') return `${label} '${input}' must not have a #fragment; remove it`;
  return undefined;
}
