export { classifyTokenError, parseRetryAfter, type TokenErrorClass, type TokenErrorClassification, type TokenErrorInput } from './classify-token-error.js';
export { CRASH_ENV, CRASH_STEPS, type CrashStep } from './crash-hook.js';
export { type ConfigureRefreshBody, configureRefreshBodySchema } from './refresh-config.js';
export {
  createRefreshEngine,
  reauthCommand,
  type ProfileLookup,
  type RefreshEngine,
  type RefreshEngineSettings,
  type RefreshLogger,
  type RefreshOutcome,
  type RefreshResult,
  type RejectedReport,
} from './refresh-engine.js';
export { REFRESH_ERROR_CODES, RefreshError, type RefreshErrorCode } from './refresh-error.js';
export { type AuthHook, type RefreshRoutesOptions, refreshRoutes } from './refresh-routes.js';
export { type CredentialRefreshStatus, renderRefreshMetrics } from './refresh-status.js';
export { backoffDelayMs, DEFAULT_BACKOFF, nextRefreshAt } from './retry-policy.js';
export { exchangeRefreshToken, tokenUrlProblem } from './token-request.js';
