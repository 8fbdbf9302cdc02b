import { checkCredentialUrl, type Secret } from '@openshell/core';
import type { Dispatcher } from 'undici';
import { classifyTokenError, type TokenErrorClassification, type TokenErrorInput } from './classify-token-error.js';
import { parseTokenResponse, type TokenGrant } from './token-response.js';

/** Everything one refresh-token exchange needs; endpoint, encoding, scopes and UA come from the profile. */
export interface TokenRequestSpec {
  /** Tried in order, moving on only on connection failure or 404. */
  readonly tokenUrls: readonly string[];
  readonly encoding: 'json' | 'form';
  readonly clientId: string;
  readonly clientSecret?: Secret | undefined;
  readonly refreshToken: Secret;
  readonly scopes: readonly string[];
  readonly userAgent?: string | undefined;
  readonly timeoutMs: number;
}

/** I/O seams of a token request: the HTTP dispatcher and the clock. */
export interface TokenRequestOptions {
  readonly dispatcher?: Dispatcher | undefined;
  /** Clock for `Retry-After` dates. */
  readonly now: () => number;
}

/** A token grant, or the classified failure; `attempts` counts the requests made (drift retries included). */
export type TokenExchangeResult =
  | { readonly ok: true; readonly grant: TokenGrant; readonly attempts: number }
  | { readonly ok: false; readonly failure: TokenErrorClassification; readonly attempts: number };

/**
 * undici is loaded on the first token request, not when this module is imported: the gateway imports
 * the refresh engine at start-up, and most gateways send no token request for a long time (or ever).
 * The module promise is kept; a failed load is not, so the next request tries again.
 */
let undiciModule: Promise<typeof import('undici')> | undefined;
function loadUndici(): Promise<typeof import('undici')> {
  if (undiciModule === undefined) {
    const loading = import('undici');
    undiciModule = loading;
    loading.catch(() => {
      if (undiciModule === loading) undiciModule = undefined;
    });
  }
  return undiciModule;
}

/** Largest response body read from a token endpoint. */
const MAX_BODY_BYTES = 64 * 1024;
const DEFAULT_TOKEN_TIMEOUT_MS = 15_000;
export { DEFAULT_TOKEN_TIMEOUT_MS };

/** `https`, or `http` only to a loopback host (DESIGN §3.2): core's credential-URL rule. Returns why a URL is refused. */
export function tokenUrlProblem(value: string): string | undefined {
  return checkCredentialUrl('token URL', value);
}

/** The request body, in the given encoding. Field order follows Claude Code's own refresh. */
export function encodeTokenRequest(spec: TokenRequestSpec, encoding: 'json' | 'form', includeScope: boolean): { contentType: string; body: string } {
  const fields: Array<[string, string]> = [
    ['grant_type', 'refresh_token'],
    ['refresh_token', spec.refreshToken.reveal()],
    ['client_id', spec.clientId],
  ];
  if (spec.clientSecret !== undefined && !spec.clientSecret.isBlank()) fields.push(['client_secret', spec.clientSecret.reveal()]);
  if (includeScope && spec.scopes.length > 0) fields.push(['scope', spec.scopes.join(' ')]);
  if (encoding === 'json') return { contentType: 'application/json', body: JSON.stringify(Object.fromEntries(fields)) };
  return { contentType: 'application/x-www-form-urlencoded', body: new URLSearchParams(fields).toString() };
}

/**
 * Exchanges a refresh token (DESIGN §5). Absorbs the known drift without spending the token: a 400
 * "Invalid request format" is retried once in the other encoding, an `invalid_scope` once without
 * scope. Redirects are never followed. Every loop is bounded by the URL count plus the two retries.
 */
export async function exchangeRefreshToken(spec: TokenRequestSpec, options: TokenRequestOptions): Promise<TokenExchangeResult> {
  let encoding = spec.encoding;
  let includeScope = true;
  let encodingRetried = false;
  let scopeRetried = false;
  let attempts = 0;
  let urlIndex = 0;
  const maxAttempts = spec.tokenUrls.length + 2;
  let last: TokenErrorClassification = { class: 'error', message: 'the profile declares no token URL' };

  while (urlIndex < spec.tokenUrls.length && attempts < maxAttempts) {
    const url = spec.tokenUrls[urlIndex]!;
    const problem = tokenUrlProblem(url);
    if (problem !== undefined) return { ok: false, failure: { class: 'error', message: problem }, attempts };
    attempts += 1;
    const outcome = await postOnce(url, encodeTokenRequest(spec, encoding, includeScope), spec, options);
    if (outcome.kind === 'ok') {
      const parsed = parseTokenResponse(outcome.body);
      if (parsed.ok) return { ok: true, grant: parsed.grant, attempts };
      return { ok: false, failure: classifyTokenError({ kind: 'invalid_response', reason: parsed.reason }), attempts };
    }
    last = classifyTokenError(outcome.input, options.now());
    if (last.class === 'next_url') {
      urlIndex += 1;
      continue;
    }
    if (last.class === 'encoding_drift' && !encodingRetried) {
      encodingRetried = true;
      encoding = encoding === 'json' ? 'form' : 'json';
      continue;
    }
    if (last.class === 'scope_drift' && !scopeRetried && spec.scopes.length > 0) {
      scopeRetried = true;
      includeScope = false;
      continue;
    }
    return { ok: false, failure: settle(last), attempts };
  }
  return { ok: false, failure: settle(last), attempts };
}

/** A drift or next-URL verdict that could not be acted on becomes a plain failure. */
function settle(failure: TokenErrorClassification): TokenErrorClassification {
  switch (failure.class) {
    case 'next_url':
      // Every URL unreachable is a network condition; every URL answering 404 is a configuration problem.
      return /unreachable/.test(failure.message)
        ? { ...failure, class: 'transient', message: `${failure.message}; no token URL left to try` }
        : { ...failure, class: 'error', message: `${failure.message}; no token URL left to try` };
    case 'encoding_drift':
    case 'scope_drift':
      return { ...failure, class: 'error' };
    default:
      return failure;
  }
}

type PostOutcome = { kind: 'ok'; body: string } | { kind: 'failed'; input: TokenErrorInput };

async function postOnce(
  url: string,
  payload: { contentType: string; body: string },
  spec: TokenRequestSpec,
  options: TokenRequestOptions,
): Promise<PostOutcome> {
  const timeoutMs = spec.timeoutMs > 0 ? spec.timeoutMs : DEFAULT_TOKEN_TIMEOUT_MS;
  const headers: Record<string, string> = {
    'content-type': payload.contentType,
    accept: 'application/json, text/plain, */*',
  };
  if (spec.userAgent !== undefined && spec.userAgent !== '') headers['user-agent'] = spec.userAgent;
  // Outside the try: a module that cannot load is not a network failure of the token endpoint.
  const { request } = await loadUndici();
  try {
    const response = await request(url, {
      method: 'POST',
      headers,
      body: payload.body,
      signal: AbortSignal.timeout(timeoutMs),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
    });
    const body = await readCapped(response.body, MAX_BODY_BYTES);
    if (response.statusCode >= 200 && response.statusCode < 300) return { kind: 'ok', body };
    return {
      kind: 'failed',
      input: {
        kind: 'http',
        status: response.statusCode,
        contentType: headerValue(response.headers['content-type']),
        retryAfter: headerValue(response.headers['retry-after']),
        body,
      },
    };
  } catch (error) {
    return { kind: 'failed', input: transportFailure(error) };
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

async function readCapped(body: AsyncIterable<Buffer | Uint8Array> & { destroy?: () => void }, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = Buffer.from(chunk);
    size += buf.length;
    if (size > limit) {
      chunks.push(buf.subarray(0, buf.length - (size - limit)));
      body.destroy?.();
      break;
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function transportFailure(error: unknown): TokenErrorInput {
  const record = (typeof error === 'object' && error !== null ? error : {}) as { name?: unknown; code?: unknown; cause?: unknown };
  const name = typeof record.name === 'string' ? record.name : '';
  const code = typeof record.code === 'string' ? record.code : undefined;
  if (name === 'TimeoutError' || name === 'AbortError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_ABORTED') {
    return { kind: 'timeout' };
  }
  const causeCode =
    typeof record.cause === 'object' && record.cause !== null && typeof (record.cause as { code?: unknown }).code === 'string'
      ? ((record.cause as { code: string }).code)
      : undefined;
  return { kind: 'network', code: code ?? causeCode };
}
