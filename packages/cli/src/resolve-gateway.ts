import type { Secret } from '@openshell/core';
import { CliError } from './cli-error.js';
import {
  checkGatewayName,
  listGatewayEntries,
  readActiveGateway,
  readGatewayEntry,
  readGatewayToken,
} from './gateway-registry.js';
import type { PathEnv } from './paths.js';

/** The gateway a command talks to and how it authenticates. */
export interface GatewayTarget {
  /** Registered name, when the target came from (or matches) the registry. */
  readonly name?: string;
  readonly url: string;
  readonly token?: Secret;
  readonly caCertFile?: string;
  /** How the target was chosen, for `gateway status` and error messages. */
  readonly via: 'flag' | 'env' | 'active';
}

function sameUrl(a: string, b: string): boolean {
  return a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}

/**
 * Picks the gateway: `--gateway NAME`, else `OPENSHELL_GATEWAY_URL` (token from `OPENSHELL_ADMIN_TOKEN`, else
 * the token file of a registered gateway with that URL), else the active gateway.
 */
export async function resolveGateway(env: PathEnv, flagName: string | undefined): Promise<GatewayTarget> {
  const { Secret } = await import('@openshell/core');
  const envToken = env.OPENSHELL_ADMIN_TOKEN?.trim() ? new Secret(env.OPENSHELL_ADMIN_TOKEN.trim()) : undefined;
  if (flagName !== undefined && flagName !== '') {
    const name = checkGatewayName(flagName);
    const entry = await readGatewayEntry(env, name);
    if (!entry) {
      throw new CliError('unknown_gateway', `unknown gateway '${name}'`, {
        hint: `Register it with \`openshell gateway add ${name} --url URL\`, or start a local one with \`openshell gateway start --name ${name}\`.`,
      });
    }
    const token = (await readGatewayToken(env, name)) ?? envToken;
    return withOptional({ name, url: entry.url, via: 'flag' }, token, entry.caCertFile);
  }
  const envUrl = env.OPENSHELL_GATEWAY_URL?.trim();
  if (envUrl) {
    parseGatewayUrl(envUrl, 'OPENSHELL_GATEWAY_URL');
    const match = (await listGatewayEntries(env)).find((e) => sameUrl(e.url, envUrl));
    const token = envToken ?? (match ? await readGatewayToken(env, match.name) : undefined) ?? (await readGatewayToken(env, 'local'));
    const base = match ? { name: match.name, url: envUrl, via: 'env' as const } : { url: envUrl, via: 'env' as const };
    return withOptional(base, token, match?.caCertFile);
  }
  const active = await readActiveGateway(env);
  if (!active) {
    throw new CliError('no_gateway', 'no gateway is configured', {
      hint: 'Start one with `openshell gateway start`, register one with `openshell gateway add NAME --url URL`, or set OPENSHELL_GATEWAY_URL.',
    });
  }
  const entry = await readGatewayEntry(env, active);
  if (!entry) {
    throw new CliError('unknown_gateway', `the active gateway '${active}' is not registered`, {
      hint: `Start it with \`openshell gateway start --name ${active}\` or register it with \`openshell gateway add ${active} --url URL\`.`,
    });
  }
  const token = (await readGatewayToken(env, active)) ?? envToken;
  return withOptional({ name: active, url: entry.url, via: 'active' }, token, entry.caCertFile);
}

function withOptional(
  base: { name?: string; url: string; via: GatewayTarget['via'] },
  token: Secret | undefined,
  caCertFile: string | undefined,
): GatewayTarget {
  return { ...base, ...(token ? { token } : {}), ...(caCertFile ? { caCertFile } : {}) };
}

/** Validates a gateway URL (http or https, no credentials in it). */
export function parseGatewayUrl(value: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliError('invalid_gateway_url', `${what} is not a valid URL`, {
      hint: 'Use a URL such as http://127.0.0.1:8787 or https://gateway.example.com.',
      exitCode: 2,
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CliError('invalid_gateway_url', `${what} must be an http or https URL, got '${url.protocol}'`, { exitCode: 2 });
  }
  if (url.username || url.password) {
    throw new CliError('invalid_gateway_url', `${what} must not carry credentials`, {
      hint: 'Pass the admin token on stdin or in OPENSHELL_ADMIN_TOKEN instead.',
      exitCode: 2,
    });
  }
  return url;
}
