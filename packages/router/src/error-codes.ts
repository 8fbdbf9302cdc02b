/**
 * Every error code @openshell/router raises, with the HTTP status a client sees, what it means and how
 * to fix it. One table, one place: `RouterError.status` reads it, the docs are generated from it, and a
 * test checks that every code is documented here.
 */
export const ROUTER_ERROR_CODES = {
  invalid_header_name: {
    status: 400,
    description: 'A client header name is not a valid HTTP token.',
    fix: 'Send header names made of RFC 9110 token characters only.',
  },
  invalid_header_value: {
    status: 400,
    description: 'A client header value contains CR, LF or NUL (a header-injection attempt or a broken client).',
    fix: 'Remove control characters from the header value; nothing was sent upstream.',
  },
  invalid_request_target: {
    status: 400,
    description:
      'The request path is not acceptable: dot segments, encoded slashes or backslashes, characters outside RFC 3986, or an unsafe model id in a Bedrock path.',
    fix: 'Send the canonical API path of the provider (for example /v1/messages).',
  },
  unknown_inference_path: {
    status: 404,
    description: 'The method and path are not an inference API the router forwards.',
    fix: 'Use a supported path: /v1/messages, /v1/messages/count_tokens, /v1/chat/completions, /v1/completions, /v1/responses, /v1/embeddings, /v1/models.',
  },
  protocol_not_routed: {
    status: 400,
    description: "The route does not serve the request's protocol (for example an OpenAI path on an Anthropic route).",
    fix: "Call an API the route's provider speaks, or point the route at a provider that speaks this one (openshell inference set).",
  },
  request_body_too_large: {
    status: 413,
    description: "The request body exceeds the router's bound (maxRequestBodyBytes).",
    fix: 'Send a smaller request, or raise maxRequestBodyBytes where the router is created.',
  },
  request_body_incomplete: {
    status: 400,
    description: 'The client closed the connection or failed while sending the request body.',
    fix: 'Retry the request; check the client for network errors.',
  },
  invalid_route: {
    status: 500,
    description:
      'The resolved route cannot be used: an unparsable base URL, an auth or header value with control characters, an unknown auth style or merge rule, or a header the policy may not set.',
    fix: 'Fix the provider configuration at the gateway (openshell provider get / update) and upgrade the supervisor if it is older than the gateway.',
  },
  credential_expired: {
    status: 503,
    description: "The route's credential is past its expiry and no fresh one was available; it was not sent.",
    fix: 'Check the credential with `openshell provider refresh status <provider>`; if it says reauth_required, run the command it names.',
  },
  reauth_required: {
    status: 401,
    description:
      "The upstream rejected the route's credential and the caller's hook says no fresh one can come without a person (the refresh grant was revoked or expired); the message names the fix.",
    fix: 'Run the command in the message, for example `openshell provider update <provider> --from-claude-login`.',
  },
  upstream_connect_failed: {
    status: 502,
    description: 'The router could not connect to the upstream (refused, unreachable, DNS or TLS failure).',
    fix: "Check the route's base URL and that the provider is reachable from the machine running the boundary.",
  },
  upstream_connect_timeout: {
    status: 504,
    description: "Connecting to the upstream (TCP and TLS) took longer than the route's connect timeout.",
    fix: 'Check network reachability of the provider; the connect timeout is part of the route.',
  },
  upstream_first_byte_timeout: {
    status: 504,
    description: "The upstream accepted the request but sent no response headers within the route's first-byte timeout.",
    fix: 'Retry; for slow models raise the route timeout (openshell inference set --timeout SECONDS).',
  },
  upstream_idle_timeout: {
    status: 504,
    description:
      "The upstream stopped sending the response body for longer than the route's idle timeout. After the status was sent this is reported in-band (an SSE error event) or by closing the connection.",
    fix: 'Retry; persistent stalls point at the provider or the network path to it.',
  },
  upstream_failed: {
    status: 502,
    description: 'The upstream connection failed before a complete response arrived (reset, malformed response).',
    fix: 'Retry; persistent failures point at the provider or a middlebox in between.',
  },
  upstream_response_too_large: {
    status: 502,
    description: 'A buffered upstream response (verification probes) exceeded its bound.',
    fix: 'Nothing to fix on the client; the probe reads only small responses.',
  },
  client_disconnected: {
    status: 499,
    description: 'The client went away; the upstream request was aborted. Never sent to anyone, reported to the caller only.',
    fix: 'None needed.',
  },
} as const satisfies Record<string, { status: number; description: string; fix: string }>;

/** Stable string code of a {@link RouterError}. */
export type RouterErrorCode = keyof typeof ROUTER_ERROR_CODES;

/** HTTP status a client sees for a router error code. */
export function statusForRouterCode(code: RouterErrorCode): number {
  return ROUTER_ERROR_CODES[code].status;
}
