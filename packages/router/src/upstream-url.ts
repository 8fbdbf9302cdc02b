import type { BundleRoute, Protocol } from '@openshell/core';
import { RouterError } from './errors.js';

/** A route's base URL, parsed once. */
export interface CompiledBaseUrl {
  /** `scheme://host[:port]` */
  readonly origin: string;
  /** Path of the base URL without a trailing slash (`''` for a bare origin). */
  readonly basePath: string;
  /** The base path is versioned (`…/v1` or `/v1/…`), so a leading `/v1` of the client path is dropped. */
  readonly stripsV1: boolean;
}

/** Parses a route's base URL; throws `invalid_route` when it is not an absolute http(s) URL. */
export function compileBaseUrl(routeName: string, baseUrl: string): CompiledBaseUrl {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new RouterError('invalid_route', `route '${routeName}' has a base URL that is not an absolute URL; fix the provider's base URL at the gateway`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new RouterError('invalid_route', `route '${routeName}' has a base URL whose scheme is not http or https`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new RouterError('invalid_route', `route '${routeName}' has a base URL with embedded credentials; put the credential in the provider instead`);
  }
  const basePath = url.pathname.replace(/\/+$/, '');
  return { origin: url.origin, basePath, stripsV1: basePath.endsWith('/v1') || basePath.startsWith('/v1/') };
}

/** Splits a request target (origin-form `/p?q` or absolute-form `http://h/p?q`) into path and query (with `?`). */
export function splitTarget(target: string): { path: string; query: string } {
  let start = 0;
  if (target.charCodeAt(0) !== 0x2f) {
    const scheme = target.indexOf('://');
    if (scheme !== -1) {
      const slash = target.indexOf('/', scheme + 3);
      const q = target.indexOf('?', scheme + 3);
      if (slash === -1 || (q !== -1 && q < slash)) return { path: '/', query: q === -1 ? '' : target.slice(q) };
      start = slash;
    }
  }
  const q = target.indexOf('?', start);
  return q === -1 ? { path: target.slice(start), query: '' } : { path: target.slice(start, q), query: target.slice(q) };
}

const PCHAR_PATH = /^(?:\/[A-Za-z0-9\-._~!$&'()*+,;=:@%]+)+\/?$/;
const ENCODED_SEPARATOR = /%(?:2[fFeE]|5[cC]|00)/;
const QUERY_OK = /^\?[\x21-\x22\x24-\x7e]*$/; // visible ASCII except '#'

/** Throws `invalid_request_target` unless the path and query are safe to forward as they are. */
export function validateTarget(path: string, query: string): void {
  const bad = (why: string) =>
    new RouterError('invalid_request_target', `request path rejected: ${why}; send the canonical API path (for example /v1/messages)`);
  if (!PCHAR_PATH.test(path)) throw bad('it contains empty segments or characters outside RFC 3986');
  if (ENCODED_SEPARATOR.test(path)) throw bad('it contains an encoded slash, backslash, dot or NUL');
  for (const seg of path.split('/')) if (seg === '.' || seg === '..') throw bad('it contains a dot segment');
  if (query !== '' && !QUERY_OK.test(query)) throw bad('the query string contains spaces, control or non-ASCII characters');
}

const SAFE_MODEL = /^[A-Za-z0-9._:@~+-]+$/;

function modelForPath(route: Pick<BundleRoute, 'name' | 'model'>): string {
  const model = route.model;
  if (model === undefined || !SAFE_MODEL.test(model) || model.includes('..')) {
    throw new RouterError(
      'invalid_route',
      `route '${route.name}' puts the model in the URL path but its model is missing or contains characters unsafe in a path; set a plain model id with openshell inference set --model`,
    );
  }
  return model;
}

/** The subset of a route URL building needs. */
export type UrlRoute = Pick<BundleRoute, 'name' | 'model' | 'modelInPath' | 'requestPathOverride'>;

/**
 * Builds the upstream path (with query) for a validated client path, as upstream OpenShell does, but
 * keeping the query string:
 * - `requestPathOverride` + `modelInPath` (Vertex): `{base}/{model}{override}`, `:rawPredict` becoming
 *   `:streamRawPredict` for streamed requests; the client path and query are not used;
 * - `requestPathOverride` alone: `{base}{override}`; the client path and query are not used;
 * - `modelInPath` alone: `{base}/{model}{clientPath}{query}`;
 * - Bedrock invoke: the model id in `/model/<id>/invoke` is replaced by the route's model when set;
 * - otherwise `{base}{clientPath}{query}`, dropping the client's leading `/v1` when the base is
 *   versioned, so `https://api.anthropic.com/v1` + `/v1/messages?beta=true` is
 *   `https://api.anthropic.com/v1/messages?beta=true`.
 * Model discovery never uses the override (it lists models, it does not call one).
 */
export function buildUpstreamPath(
  route: UrlRoute,
  base: CompiledBaseUrl,
  protocol: Protocol,
  clientPath: string,
  query: string,
  stream: boolean,
): string {
  const override = protocol === 'model_discovery' ? undefined : route.requestPathOverride;
  if (override !== undefined) {
    if (route.modelInPath === true) {
      const suffix = stream && override.endsWith(':rawPredict') ? `${override.slice(0, -':rawPredict'.length)}:streamRawPredict` : override;
      const joined = suffix.startsWith(':') || suffix.startsWith('/') ? suffix : `/${suffix}`;
      return `${base.basePath}/${modelForPath(route)}${joined}`;
    }
    return `${base.basePath}${override.startsWith('/') ? override : `/${override}`}`;
  }
  if (route.modelInPath === true && protocol !== 'model_discovery') {
    return `${base.basePath}/${modelForPath(route)}${clientPath}${query}`;
  }
  let path = clientPath;
  if (protocol === 'aws_bedrock_invoke' && route.model !== undefined) {
    const m = /^\/model\/[^/]+\/invoke$/.exec(path);
    if (m === null) throw new RouterError('invalid_request_target', 'Bedrock requests must use the path /model/<id>/invoke');
    path = `/model/${modelForPath(route)}/invoke`;
  }
  if (base.stripsV1 && (path === '/v1' || path.startsWith('/v1/'))) path = path.slice(3);
  const full = `${base.basePath}${path}${query}`;
  return full.startsWith('/') ? full : `/${full}`;
}
