/**
 * Pure classification of a failed token-endpoint exchange (DESIGN §5, reference §2.5). No I/O: the
 * caller hands in what it saw (HTTP status and body, or a transport error code) and gets back what to
 * do next. Messages never echo the response body beyond a sanitized OAuth error code and description.
 */

/** What the engine does after a failed exchange. */
export type TokenErrorClass =
  /** Terminal until an operator re-authorizes: the grant is gone. */
  | 'reauth_required'
  /** 429: wait `Retry-After` (or back off when absent). */
  | 'rate_limited'
  /** 5xx, network, timeout, HTML/WAF challenge: exponential backoff. */
  | 'transient'
  /** 400 "Invalid request format": retry once in the other encoding (the token is not spent). */
  | 'encoding_drift'
  /** 400 `invalid_scope`: retry once without `scope` (the token is not spent). */
  | 'scope_drift'
  /** Connection never established, or 404: try the profile's next token URL. */
  | 'next_url'
  /** Anything else (an unexpected 4xx, a malformed 2xx): backoff, reported as an error. */
  | 'error';

/** What the caller observed. */
export type TokenErrorInput =
  | {
      readonly kind: 'http';
      readonly status: number;
      readonly contentType?: string | undefined;
      readonly body: string;
      readonly retryAfter?: string | undefined;
    }
  | { readonly kind: 'network'; readonly code?: string | undefined }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'invalid_response'; readonly reason: string };

/** A token-endpoint failure classified: what to do next, and a secret-free message saying why. */
export interface TokenErrorClassification {
  readonly class: TokenErrorClass;
  /** The OAuth `error` code (or Anthropic error type) when the body carried one. */
  readonly oauthError?: string;
  /** Milliseconds to wait, from `Retry-After`. */
  readonly retryAfterMs?: number;
  /** One line for status and logs; never contains a secret. */
  readonly message: string;
}

const TERMINAL_OAUTH_ERRORS = new Set(['invalid_grant', 'invalid_client', 'unauthorized_client']);

/** Transport error codes meaning the request never reached a server, so another URL may be tried. */
const CONNECT_FAILURE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Longest Retry-After we honour (a hostile or broken header must not park a credential forever). */
export const MAX_RETRY_AFTER_MS = 6 * 60 * 60 * 1000;

/** Classifies a failed token exchange. `now` is only used to read an HTTP-date `Retry-After`. */
export function classifyTokenError(input: TokenErrorInput, now = 0): TokenErrorClassification {
  switch (input.kind) {
    case 'timeout':
      return { class: 'transient', message: 'token endpoint timed out' };
    case 'network': {
      const code = sanitizeCode(input.code) ?? 'unknown';
      if (CONNECT_FAILURE_CODES.has(code)) {
        return { class: 'next_url', message: `token endpoint unreachable (${code})` };
      }
      return { class: 'transient', message: `token endpoint request failed (${code})` };
    }
    case 'invalid_response':
      return { class: 'error', message: `token endpoint returned an unusable response: ${input.reason}` };
    case 'http':
      return classifyHttp(input, now);
  }
}

function classifyHttp(input: Extract<TokenErrorInput, { kind: 'http' }>, now: number): TokenErrorClassification {
  const { status } = input;
  const parsed = parseErrorBody(input.body, input.contentType);
  const oauthError = parsed.error;
  const detail = describe(status, parsed);
  const withCode = oauthError === undefined ? {} : { oauthError };

  if (status === 404) return { class: 'next_url', ...withCode, message: detail };
  if (status === 429) {
    const retryAfterMs = parseRetryAfter(input.retryAfter, now);
    return {
      class: 'rate_limited',
      ...withCode,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      message: `${detail}${retryAfterMs === undefined ? '' : `; retry after ${Math.ceil(retryAfterMs / 1000)} s`}`,
    };
  }
  if (parsed.html) {
    // Cloudflare managed challenges and other WAF pages: not a verdict on the token (reference §2.2).
    return { class: 'transient', message: `token endpoint answered HTTP ${status} with an HTML page (WAF challenge?)` };
  }
  if (oauthError !== undefined && TERMINAL_OAUTH_ERRORS.has(oauthError)) {
    return { class: 'reauth_required', oauthError, message: detail };
  }
  if (status === 400 && oauthError === 'invalid_scope') {
    return { class: 'scope_drift', oauthError, message: detail };
  }
  if (status === 400 && /invalid request format/i.test(`${parsed.description ?? ''} ${input.body.slice(0, 2048)}`)) {
    return { class: 'encoding_drift', ...withCode, message: detail };
  }
  if (status >= 500) return { class: 'transient', ...withCode, message: detail };
  if (status >= 300 && status < 400) {
    return { class: 'transient', message: `token endpoint answered HTTP ${status} (redirects are not followed)` };
  }
  return { class: 'error', ...withCode, message: detail };
}

interface ParsedErrorBody {
  readonly html: boolean;
  readonly error?: string;
  readonly description?: string;
}

/** Reads `{error, error_description}` (RFC 6749) or `{type:"error", error:{type, message}}` (Anthropic). */
function parseErrorBody(body: string, contentType: string | undefined): ParsedErrorBody {
  const trimmed = body.trimStart();
  const html =
    /\btext\/html\b/i.test(contentType ?? '') || /^<(!doctype|html|head|body)\b/i.test(trimmed.slice(0, 64));
  if (html) return { html: true };
  let json: unknown;
  try {
    json = JSON.parse(trimmed);
  } catch {
    return { html: false };
  }
  if (typeof json !== 'object' || json === null) return { html: false };
  const record = json as Record<string, unknown>;
  let error: string | undefined;
  let description: string | undefined;
  if (typeof record.error === 'string') {
    error = record.error;
    if (typeof record.error_description === 'string') description = record.error_description;
  } else if (typeof record.error === 'object' && record.error !== null) {
    const inner = record.error as Record<string, unknown>;
    if (typeof inner.type === 'string') error = inner.type;
    if (typeof inner.message === 'string') description = inner.message;
  }
  const code = sanitizeCode(error);
  const text = description === undefined ? undefined : sanitizeDescription(description);
  return { html: false, ...(code === undefined ? {} : { error: code }), ...(text === undefined ? {} : { description: text }) };
}

function describe(status: number, parsed: ParsedErrorBody): string {
  let text = `token endpoint answered HTTP ${status}`;
  if (parsed.error !== undefined) text += ` ${parsed.error}`;
  if (parsed.description !== undefined && parsed.description !== '') text += `: ${parsed.description}`;
  return text;
}

/** An OAuth error code is a short identifier; anything else is dropped. */
function sanitizeCode(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return /^[A-Za-z0-9_.:-]{1,64}$/.test(value) ? value : undefined;
}

/**
 * A description is free text from the server, so it is cut short, stripped of control characters,
 * and any long token-like run (which could be an echoed credential) is replaced.
 */
export function sanitizeDescription(value: string): string {
  return value
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .replace(/sk-ant-[A-Za-z0-9_-]*/g, '[redacted]')
    .replace(/[A-Za-z0-9_\-+/=.]{24,}/g, '[redacted]')
    .slice(0, 160)
    .trim();
}

/** `Retry-After` as delta-seconds or an HTTP date, in ms from `now`; capped; undefined when absent or bad. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  let ms: number;
  if (/^\d+$/.test(text)) {
    ms = Number(text) * 1000;
  } else {
    // An HTTP date always names a weekday and month; a bare number with a sign is not one.
    if (!/[A-Za-z]{3}/.test(text)) return undefined;
    const at = Date.parse(text);
    if (Number.isNaN(at)) return undefined;
    ms = at - now;
  }
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}
