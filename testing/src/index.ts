/**
 * @openshell/testing: loopback fakes of Anthropic's API and OAuth token endpoint that follow
 * shared/reference/anthropic-subscription-and-peers.md §2, plus credential-file, canary, command-line and error-table helpers.
 */
export {
  type AccessTokenLedger,
  type AccessTokenStatus,
  createAccessTokenLedger,
} from './access-token-ledger.js';
export {
  AGENT_SDK_IDENTITY,
  ANTHROPIC_ERRORS,
  type AnthropicErrorBody,
  anthropicError,
  BILLING_HEADER_PREFIX,
  CLAUDE_CODE_CLIENT_ID,
  CLAUDE_CODE_IDENTITY,
  CLAUDE_CODE_SCOPES,
  claudeCodeSystemPrompt,
  errorTypeForStatus,
  hasClaudeCodeIdentity,
  isHaikuModel,
  OAUTH_BETA,
} from './anthropic-contract.js';
export { type CanaryForm, type CanaryHaystack, type CanaryHit, type CanaryScanOptions, canary, canaryScan } from './canary-scan.js';
export {
  type ClaudeCredentialsOptions,
  type ClaudeLoginTokens,
  claudeCredentialsJson,
  writeClaudeCredentials,
} from './claude-credentials.js';
export { type CommandLineWatch, snapshotCommandLines, watchCommandLines } from './command-lines.js';
export { errorCodesRaisedIn } from './error-codes.js';
export {
  createFakeAnthropic,
  estimateTokens,
  type FakeAnthropic,
  type FakeAnthropicAuth,
  type FakeAnthropicBehaviour,
  type FakeAnthropicOptions,
  type FakeAnthropicSettings,
  type ForceOptions,
  type ReplyContext,
  type StreamEventInfo,
  type StreamSettings,
} from './fake-anthropic.js';
export {
  CLOUDFLARE_CHALLENGE_HTML,
  createFakeTokenEndpoint,
  createPkcePair,
  type FakeAuthorization,
  type FakeLogin,
  type FakeTokenBehaviour,
  type FakeTokenEndpoint,
  type FakeTokenEndpointOptions,
  type FakeTokenEndpointSettings,
  pkceChallenge,
  type TokenEncoding,
} from './fake-token-endpoint.js';
export {
  headerValue,
  headerValues,
  jsonBody,
  type LoopbackServer,
  type RecordedRequest,
} from './loopback-server.js';
export { waitUntil } from './wait-until.js';
