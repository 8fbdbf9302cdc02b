/**
 * @openshell/server: the OpenShell-TS gateway. `createGateway(options)` builds the fastify app over
 * a store (SQLite by default, Postgres for several replicas); the store, crypto and refresh engine
 * are exported for embedding and tests.
 */

export {
  defaultConfigDir,
  defaultDataDir,
  gatewayConfigPaths,
  writeAdminTokenFile,
  writeGatewayEntry,
} from './admin-token-file.js';
export type { Principal } from './auth.js';
export type { Catalogue } from './catalogue.js';
export { builtinProfiles, loadCatalogue, loadProfilesDir } from './catalogue-loader.js';
export * from './crypto/index.js';
export { GATEWAY_ERROR_CODES, type GatewayErrorCode, statusForCode } from './error-codes.js';
export { GatewayError } from './errors.js';
export { createGateway, type Gateway, type GatewayOptions } from './gateway.js';
export { type ErrorBody, toErrorResponse } from './http-errors.js';
export { checkListenPolicy, isLoopbackHost } from './listen-policy.js';
export { captureStream, createLogger, REDACT_PATHS, scrubbingDestination } from './logger.js';
export * from './refresh/index.js';
export { buildRouteBundle, type SkippedRoute } from './route-bundle.js';
export {
  DEFAULT_TIMEOUTS,
  type ProviderForRoute,
  type RouteConfig,
  resolveBundleRoute,
  selectCredential,
} from './route-resolution.js';
export { DEFAULT_ROUTE_NAME } from './routes/inference-routes.js';
export { SecretRegistry } from './secret-registry.js';
export * from './store/index.js';
export { ADMIN_TOKEN_PREFIX, bearerToken, generateToken, SANDBOX_TOKEN_PREFIX } from './tokens.js';
export { createRouteProbe, type ProbeResult, probeRequest, type RouteProbe } from './verify-probe.js';
