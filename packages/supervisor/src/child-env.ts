import { pathToFileURL } from 'node:url';
import type { BundleRoute } from '@openshell/core';

/** Host variables a sandbox child inherits as they are (plus every `LC_*`). Nothing else crosses. */
export const HOST_ENV_ALLOWLIST: readonly string[] = [
  'PATH',
  'LANG',
  'LANGUAGE',
  'TERM',
  'COLORTERM',
  'TERM_PROGRAM',
  'TZ',
  'USER',
  'LOGNAME',
  'SHELL',
  'COLUMNS',
  'LINES',
  'NO_COLOR',
  'FORCE_COLOR',
];

/** Variables only the supervisor sets; the gateway's environment and a route's clientEnv cannot override them. */
export const RESERVED_CHILD_KEYS: readonly string[] = [
  'HOME',
  'TMPDIR',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'ALL_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'all_proxy',
  'no_proxy',
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'REQUESTS_CA_BUNDLE',
  'CURL_CA_BUNDLE',
  'GIT_SSL_CAINFO',
  'NODE_OPTIONS',
];

/** Loopback names that bypass the proxy (the child's own local servers). */
export const NO_PROXY_VALUE = '127.0.0.1,localhost,::1';

/** Inputs of {@link buildChildEnvironment}. */
export interface ChildEnvironmentInput {
  /** The supervisor's environment; only {@link HOST_ENV_ALLOWLIST} and `LC_*` are read from it. */
  readonly hostEnv: Readonly<Record<string, string | undefined>>;
  /** Sandbox HOME and TMPDIR, as the child sees them. */
  readonly home: string;
  readonly tmpdir: string;
  /** Injectable provider environment from the gateway. */
  readonly injectable: Readonly<Record<string, string>>;
  /** Routes whose `clientEnv` the child gets (later routes win on a shared key). */
  readonly routes: readonly Pick<BundleRoute, 'name' | 'clientEnv'>[];
  /** Proxy URL for `HTTP(S)_PROXY`, both cases. */
  readonly proxyUrl: string;
  /** The sandbox CA certificate alone (for `NODE_EXTRA_CA_CERTS`). */
  readonly caCertFile: string;
  /** System CAs plus the sandbox CA (for OpenSSL-based clients). */
  readonly caBundleFile: string;
  /** A Node preload that routes `fetch` through the proxy (used without isolation). */
  readonly nodePreload?: string;
}

/** What {@link buildChildEnvironment} produced, with the keys it refused to let through. */
export interface ChildEnvironment {
  readonly env: Record<string, string>;
  /** Keys of the gateway environment or a clientEnv that tried to set a reserved variable. */
  readonly ignored: readonly string[];
}

/**
 * The sandbox child's whole environment (pure): allow-listed host variables, HOME and TMPDIR, the
 * injectable environment, each route's clientEnv, then the proxy and CA variables, which nothing
 * before them can override. No supervisor secret (sandbox token, proxy CA key) is ever an input.
 */
export function buildChildEnvironment(input: ChildEnvironmentInput): ChildEnvironment {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(input.hostEnv)) {
    if (value === undefined) continue;
    if (HOST_ENV_ALLOWLIST.includes(key) || /^LC_[A-Z_]+$/.test(key)) env[key] = value;
  }
  const ignored: string[] = [];
  const layer = (source: Readonly<Record<string, string>>, origin: string) => {
    for (const [key, value] of Object.entries(source)) {
      if (RESERVED_CHILD_KEYS.includes(key) || RESERVED_CHILD_KEYS.includes(key.toUpperCase())) {
        ignored.push(`${origin}:${key}`);
        continue;
      }
      env[key] = value;
    }
  };
  layer(input.injectable, 'environment');
  for (const route of input.routes) layer(route.clientEnv, `route ${route.name}`);
  Object.assign(env, {
    HOME: input.home,
    TMPDIR: input.tmpdir,
    HTTP_PROXY: input.proxyUrl,
    HTTPS_PROXY: input.proxyUrl,
    ALL_PROXY: input.proxyUrl,
    http_proxy: input.proxyUrl,
    https_proxy: input.proxyUrl,
    all_proxy: input.proxyUrl,
    NO_PROXY: NO_PROXY_VALUE,
    no_proxy: NO_PROXY_VALUE,
    NODE_EXTRA_CA_CERTS: input.caCertFile,
    SSL_CERT_FILE: input.caBundleFile,
    REQUESTS_CA_BUNDLE: input.caBundleFile,
    CURL_CA_BUNDLE: input.caBundleFile,
    GIT_SSL_CAINFO: input.caBundleFile,
  });
  if (input.nodePreload !== undefined) env.NODE_OPTIONS = `--import=${pathToFileURL(input.nodePreload).href}`;
  return { env, ignored };
}
