import type { BundleRoute, Protocol } from '@openshell/core';
import type { RouterError } from './errors.js';

/** Which wire shape the router's own errors take for a request. */
export type ErrorShape = 'anthropic' | 'openai' | 'plain';

/** The error shape clients of a protocol understand; model discovery follows the route's family. */
export function errorShapeFor(protocol: Protocol | undefined, route: Pick<BundleRoute, 'protocols'> | undefined): ErrorShape {
  if (protocol !== undefined) {
    if (protocol.startsWith('anthropic_')) return 'anthropic';
    if (protocol.startsWith('openai_')) return 'openai';
    if (protocol === 'aws_bedrock_invoke') return 'plain';
  }
  if (route?.protocols.some((p) => p.startsWith('anthropic_')) === true) return 'anthropic';
  if (route?.protocols.some((p) => p.startsWith('openai_')) === true) return 'openai';
  return route === undefined ? 'anthropic' : 'plain';
}

function anthropicType(status: number): string {
  switch (status) {
    case 400:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 504:
      return 'timeout_error';
    default:
      return 'api_error';
  }
}

/** The message clients see: prefixed with the stable code so logs and users can grep for it. */
function clientMessage(error: RouterError): string {
  return `openshell router (${error.code}): ${error.message}`;
}

/** JSON body of a router error in the protocol's shape (Anthropic, OpenAI or a plain `{message, code}`). */
export function errorBody(shape: ErrorShape, error: RouterError): string {
  return shapedErrorBody(shape, error.status, error.code, clientMessage(error));
}

/**
 * JSON body of any boundary error in the protocol's shape, for callers with their own code and
 * message (the supervisor's "no route" answers): the one place that knows the three wire shapes.
 */
export function shapedErrorBody(shape: ErrorShape, status: number, code: string, message: string): string {
  switch (shape) {
    case 'anthropic':
      return JSON.stringify({ type: 'error', error: { type: anthropicType(status), message } });
    case 'openai':
      return JSON.stringify({ error: { message, type: status >= 500 ? 'server_error' : 'invalid_request_error', param: null, code } });
    default:
      return JSON.stringify({ message, code });
  }
}

/**
 * An SSE error frame for errors after the response status was sent. Anthropic clients listen for
 * `event: error`; OpenAI clients read an `error` object from a `data:` line. JSON encoding guarantees
 * the message cannot break the frame into several events.
 */
export function sseErrorFrame(shape: ErrorShape, error: RouterError): string {
  const body = errorBody(shape, error);
  return shape === 'anthropic' ? `event: error\ndata: ${body}\n\n` : `data: ${body}\n\n`;
}
