/**
 * Every error code the gateway's HTTP API can answer with, its HTTP status, what it means and how
 * to fix it. One table: the error handler takes the status from here, and a test checks that every
 * code raised in the source has an entry.
 */
export const GATEWAY_ERROR_CODES = {
  unauthenticated: {
    status: 401,
    description: 'The request carried no `Authorization: Bearer <token>` header.',
    fix: 'Send the admin token (CLI: `gateways/<name>.token` in the config dir) or a sandbox token.',
  },
  invalid_token: {
    status: 401,
    description: 'The bearer token is unknown, expired, or belongs to a deleted sandbox.',
    fix: 'Use the current admin token, or issue a new sandbox token with `POST /v1/sandboxes/:name/tokens`.',
  },
  forbidden: {
    status: 403,
    description: 'The token is valid but not for this endpoint (a sandbox token on an admin route, or the reverse).',
    fix: 'Admin endpoints need the admin token; `/v1/sandbox/*` endpoints need a sandbox token.',
  },
  not_found: {
    status: 404,
    description: 'No such endpoint.',
    fix: 'Check the method and path against the API reference in architecture/gateway.md.',
  },
  invalid_request: {
    status: 400,
    description: 'A body, query or path field failed validation; the message names the field.',
    fix: 'Correct the named field and send the request again.',
  },
  invalid_json: {
    status: 400,
    description: 'The request body is not valid JSON.',
    fix: 'Send a JSON object with `Content-Type: application/json`.',
  },
  payload_too_large: {
    status: 413,
    description: 'The request body exceeds the gateway body limit (1 MiB).',
    fix: 'Send a smaller body.',
  },
  unsupported_media_type: {
    status: 415,
    description: 'The body has a content type other than JSON.',
    fix: 'Send `Content-Type: application/json`.',
  },
  profile_not_found: {
    status: 404,
    description: 'No provider profile with this id in the catalogue.',
    fix: 'List profiles with `GET /v1/profiles`.',
  },
  unsupported_provider_type: {
    status: 400,
    description: 'The provider type is neither a known type, an alias, nor an admin profile id.',
    fix: 'Use a type listed by `GET /v1/profiles` (aliases such as `claude-plan` are accepted).',
  },
  invalid_credentials: {
    status: 400,
    description: "Credentials do not match the provider's profile: an unknown key, a missing required key, or an empty value.",
    fix: 'Send exactly the keys the profile declares (`GET /v1/profiles/:type`), each with a non-empty value.',
  },
  provider_not_found: {
    status: 404,
    description: 'No provider with this name.',
    fix: 'List providers with `GET /v1/providers`.',
  },
  provider_exists: {
    status: 409,
    description: 'A provider with this name already exists.',
    fix: 'Choose another name, or update the existing provider with PATCH.',
  },
  provider_type_immutable: {
    status: 400,
    description: "A provider's type cannot be changed.",
    fix: 'Delete the provider and create it again with the new type.',
  },
  provider_in_use: {
    status: 409,
    description: 'The provider is used by an inference route or bound to a sandbox.',
    fix: 'Delete the route or unbind the provider first, or repeat with `?force=true`.',
  },
  resource_version_conflict: {
    status: 409,
    description: 'The record changed since you read it (compare-and-swap lost).',
    fix: 'Read the record again and retry with its current `resourceVersion`.',
  },
  unknown_provider: {
    status: 400,
    description: 'A request names a provider that does not exist (binding to a sandbox, or an inference route).',
    fix: 'Create the provider first, or correct the name (`GET /v1/providers`).',
  },
  route_not_found: {
    status: 404,
    description: 'No inference route with this name.',
    fix: 'Set one with `PUT /v1/inference/routes/:route` (CLI: `openshell inference set`).',
  },
  route_unusable: {
    status: 400,
    description: 'The provider does not resolve to a usable route: not an inference type, no credential, an expired credential, or an empty base URL.',
    fix: 'Follow the message: add the named credential, refresh it, or set the base-URL config key.',
  },
  verification_failed: {
    status: 400,
    description: 'The verification probe reached the upstream, which rejected the credential or the request.',
    fix: 'Check the credential and the model named in the message; or retry with `verify: false` to skip the probe.',
  },
  upstream_unreachable: {
    status: 502,
    description: 'The verification probe could not reach the upstream or it answered with a server error.',
    fix: 'Check the base URL and network; or retry with `verify: false` to skip the probe.',
  },
  sandbox_not_found: {
    status: 404,
    description: 'No sandbox with this name.',
    fix: 'List sandboxes with `GET /v1/sandboxes`.',
  },
  sandbox_exists: {
    status: 409,
    description: 'A sandbox with this name already exists.',
    fix: 'Choose another name, or update the sandbox with PATCH.',
  },
  environment_conflict: {
    status: 409,
    description: "Two of the sandbox's bound providers set the same environment key.",
    fix: 'Bind only one of the two providers to the sandbox.',
  },
  store_unavailable: {
    status: 503,
    description: 'The store (SQLite or Postgres) did not answer.',
    fix: 'Check the database; the gateway retries on the next request.',
  },
  shutting_down: {
    status: 503,
    description: 'The gateway is shutting down.',
    fix: 'Retry against another replica or after the restart.',
  },
  internal: {
    status: 500,
    description: 'An unexpected error; details are in the gateway log (secrets scrubbed).',
    fix: 'Report it with the request id from the log.',
  },
} as const satisfies Record<string, { status: number; description: string; fix: string }>;

/** A code the gateway's own API may answer with. */
export type GatewayErrorCode = keyof typeof GATEWAY_ERROR_CODES;

/** The HTTP status of a code (500 for a code not in the table, e.g. one from another package). */
export function statusForCode(code: string): number {
  const entry = (GATEWAY_ERROR_CODES as Record<string, { status: number } | undefined>)[code];
  return entry?.status ?? 500;
}
