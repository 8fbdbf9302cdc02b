/**
 * Contract facts of Anthropic's API for subscription (OAuth) credentials, as collected in
 * shared/reference/anthropic-subscription-and-peers.md §2.4–§2.7. The fakes answer with exactly these.
 */

/** The beta flag an OAuth bearer token needs in `anthropic-beta`. */
export const OAUTH_BETA = 'oauth-2025-04-20';

/** Claude Code's public OAuth client id. */
export const CLAUDE_CODE_CLIENT_ID = '9d1c250a-e61b-44d9-88ed-5944d1962f5e';

/** Scopes of a full Claude Code login. */
export const CLAUDE_CODE_SCOPES = [
  'org:create_api_key',
  'user:profile',
  'user:inference',
  'user:sessions:claude_code',
  'user:mcp_servers',
  'user:file_upload',
] as const;

/** Exact error messages of the Messages API that clients (and Claude Code's recovery) match on. */
export const ANTHROPIC_ERRORS = {
  oauthNotSupported: 'OAuth authentication is currently not supported.',
  oauthExpired: 'OAuth token has expired. Please obtain a new token or refresh your existing token.',
  invalidCredentials: 'Invalid authentication credentials',
  invalidOAuthToken: 'Invalid OAuth token. The provided token was not found or is malformed.',
  invalidBearer: 'Invalid bearer token',
  invalidApiKey: 'invalid x-api-key',
  apiKeyRequired: 'x-api-key header is required',
  versionRequired: 'anthropic-version: header is required',
  claudeCodeOnly: 'This credential is only authorized for use with Claude Code and cannot be used for other API requests.',
  rateLimited: "This request would exceed your account's rate limit. Please try again later.",
  overloaded: 'Overloaded',
  internal: 'Internal server error',
  revoked: 'OAuth token has been revoked',
} as const;

/** First system block Claude Code ≥2.1 sends (attribution; `cch` is computed by the real binary). */
export const BILLING_HEADER_PREFIX = 'x-anthropic-billing-header:';
/** Identity line Claude Code 2.1.328 sends in the system block after the attribution block. */
export const AGENT_SDK_IDENTITY = "You are a Claude agent, built on Anthropic's Claude Agent SDK.";
/** Identity line older Claude Code versions send at the start of the system prompt. */
export const CLAUDE_CODE_IDENTITY = "You are Claude Code, Anthropic's official CLI for Claude.";

/** An Anthropic API error body: `{"type":"error","error":{"type":…,"message":…}}`. */
export interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
}

/** Builds an Anthropic API error body. */
export function anthropicError(type: string, message: string): AnthropicErrorBody {
  return { type: 'error', error: { type, message } };
}

/** The Anthropic error `type` that goes with an HTTP status. */
export function errorTypeForStatus(status: number): string {
  switch (status) {
    case 400:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 402:
      return 'billing_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 529:
      return 'overloaded_error';
    default:
      return 'api_error';
  }
}

function systemTexts(system: unknown): string[] {
  if (typeof system === 'string') return [system];
  if (!Array.isArray(system)) return [];
  return system.map((block: unknown) => {
    if (typeof block === 'object' && block !== null && 'text' in block) {
      const text = (block as { text: unknown }).text;
      return typeof text === 'string' ? text : '';
    }
    return '';
  });
}

/**
 * Whether a Messages `system` value carries a Claude Code identity: an attribution block
 * (`x-anthropic-billing-header:`) followed by a block starting with the Agent SDK or Claude Code
 * identity line, or the older Claude Code identity line at the start of the first block or string.
 */
export function hasClaudeCodeIdentity(system: unknown): boolean {
  const texts = systemTexts(system);
  const first = texts[0];
  if (first === undefined) return false;
  if (first.startsWith(CLAUDE_CODE_IDENTITY)) return true;
  const second = texts[1];
  return (
    first.startsWith(BILLING_HEADER_PREFIX) &&
    second !== undefined &&
    (second.startsWith(AGENT_SDK_IDENTITY) || second.startsWith(CLAUDE_CODE_IDENTITY))
  );
}

/** A `system` value that passes the identity gate, shaped like Claude Code 2.1.328's. */
export function claudeCodeSystemPrompt(extra?: string): Array<{ type: 'text'; text: string }> {
  const blocks: Array<{ type: 'text'; text: string }> = [
    { type: 'text', text: `${BILLING_HEADER_PREFIX} cc_version=2.1.328.fake; cc_entrypoint=sdk-ts; cch=00000;` },
    { type: 'text', text: AGENT_SDK_IDENTITY },
  ];
  if (extra !== undefined) blocks.push({ type: 'text', text: extra });
  return blocks;
}

/** Whether a model id is a Haiku model (exempt from the identity gate). */
export function isHaikuModel(model: string): boolean {
  return model.toLowerCase().includes('haiku');
}
