// Library surface of @openshell/cli: the pieces other tools (and tests) may reuse. The command itself is bin.ts.

export {
  type ClaudeLogin,
  type ClaudeLoginResult,
  claudeKeychainAccount,
  claudeKeychainService,
  describeSource,
  type LoginSource,
  normalizeEpochMs,
  parseClaudeLogin,
  readClaudeLogin,
} from './claude-login.js';
export { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './cli-error.js';
export { parseConfigArgs, parseCredentialArgs } from './credential-args.js';
export { type Keychain, lookupKeychain, systemKeychain } from './keychain.js';
export { buildAuthorizeUrl, createPkceSession, type PkceSession, parsePastedCode, pkceChallenge } from './pkce.js';
export { type GatewayTarget, resolveGateway } from './resolve-gateway.js';
