import { OpenShellError } from '@openshell/core';
import { GATEWAY_ERROR_CODES, type GatewayErrorCode, statusForCode } from './error-codes.js';
import { GatewayError } from './errors.js';

/** The JSON body of every error answer. */
export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

const STORE_CODE_MAP: Readonly<Record<string, GatewayErrorCode>> = {
  conflict: 'resource_version_conflict',
  in_use: 'provider_in_use',
  unavailable: 'store_unavailable',
  busy: 'store_unavailable',
  corrupt: 'internal',
  key_mismatch: 'internal',
};

const CORE_CODE_MAP: Readonly<Record<string, GatewayErrorCode>> = {
  unsupported_provider_type: 'unsupported_provider_type',
  duplicate_environment_key: 'environment_conflict',
  invalid_profile: 'invalid_request',
};

const FASTIFY_CODE_MAP: Readonly<Record<string, GatewayErrorCode>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
  FST_ERR_BAD_URL: 'invalid_request',
  FST_ERR_INVALID_URL: 'invalid_request',
  FST_ERR_NOT_FOUND: 'not_found',
};

/**
 * Turns any thrown value into `{ status, body }`: GatewayErrors keep their code; store, core and
 * fastify errors are mapped onto documented codes; another package's OpenShellError (e.g. the refresh
 * engine's) keeps its code and its `statusCode` when it carries one; anything else is `internal`
 * with a generic message (the details go to the log only). `scrub` removes live secret values.
 */
export function toErrorResponse(err: unknown, scrub: (s: string) => string): { status: number; body: ErrorBody; internal: boolean } {
  const make = (code: string, message: string, status: number, field?: string) => {
    const error: ErrorBody['error'] = { code, message: scrub(message) };
    if (field !== undefined) error.field = field;
    return { status, body: { error }, internal: status >= 500 };
  };
  if (err instanceof GatewayError) return make(err.code, err.message, statusForCode(err.code), err.field);
  if (OpenShellError.isInstance(err)) {
    if (err.name === 'StoreError') {
      const code = STORE_CODE_MAP[err.code];
      if (code !== undefined) {
        const message = code === 'internal' ? 'the store failed; see the gateway log' : err.message;
        return make(code, message, statusForCode(code));
      }
    }
    const coreCode = CORE_CODE_MAP[err.code];
    if (err.name === 'CoreError' && coreCode !== undefined) return make(coreCode, err.message, statusForCode(coreCode));
    if (err.code in GATEWAY_ERROR_CODES) return make(err.code, err.message, statusForCode(err.code));
    const carried = (err as { statusCode?: unknown }).statusCode;
    if (typeof carried === 'number' && carried >= 400 && carried <= 599) return make(err.code, err.message, carried);
    return make('internal', 'internal error; see the gateway log', 500);
  }
  if (typeof err === 'object' && err !== null) {
    const e = err as { code?: unknown; statusCode?: unknown; message?: unknown };
    const mapped = typeof e.code === 'string' ? FASTIFY_CODE_MAP[e.code] : undefined;
    if (mapped !== undefined) return make(mapped, typeof e.message === 'string' ? e.message : mapped, statusForCode(mapped));
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      return make('invalid_request', typeof e.message === 'string' ? e.message : 'bad request', 400);
    }
  }
  return make('internal', 'internal error; see the gateway log', 500);
}
