import { type Protocol, detectProtocol } from '@openshell/core';
import type { CompiledRoute } from './compiled-route.js';
import { RouterError } from './errors.js';
import { buildUpstreamHeaders } from './header-policy.js';
import { pinModel } from './pin-model.js';
import { buildUpstreamPath, splitTarget, validateTarget } from './upstream-url.js';
import { shapeVertexAnthropicBody } from './vertex.js';

/** A client request as the router sees it. */
export interface ClientRequest {
  readonly method: string;
  /** Request target: origin-form (`/v1/messages?beta=true`) or absolute-form (`http://inference.local/v1/messages`). */
  readonly target: string;
  /** `[name, value, …]` exactly as received (Node's `req.rawHeaders`). */
  readonly rawHeaders: readonly string[];
  /** The whole request body, or undefined for none. */
  readonly body: Buffer | undefined;
  /** The protocol, when the caller already detected it; otherwise detected from method and path. */
  readonly protocol?: Protocol | undefined;
}

/** The request to send upstream. */
export interface UpstreamRequest {
  readonly protocol: Protocol;
  readonly origin: string;
  /** Path with query string. */
  readonly path: string;
  readonly method: string;
  /** `[name, value, …]`, lowercase names, one line per name, auth last. */
  readonly headers: string[];
  readonly body: Buffer | undefined;
}

/** Detects the protocol of a client request and checks the route serves it. */
export function resolveProtocol(compiled: CompiledRoute, method: string, path: string, given?: Protocol): Protocol {
  const protocol = given ?? detectProtocol(method, path);
  if (protocol === undefined) {
    throw new RouterError('unknown_inference_path', `${method} ${path} is not an inference API this router forwards`);
  }
  if (!compiled.protocols.has(protocol)) {
    throw new RouterError(
      'protocol_not_routed',
      `route '${compiled.route.name}' (provider type ${compiled.route.providerType}) does not serve ${protocol}; it serves ${compiled.route.protocols.join(', ')}`,
    );
  }
  return protocol;
}

/**
 * Turns a client request and a compiled route into the upstream request: protocol check, target
 * validation, URL, body (model pinned in place, or shaped for Vertex) and headers. Pure; throws
 * RouterError (4xx for client faults, `invalid_route` for route faults) before anything is sent.
 */
export function prepareUpstreamRequest(compiled: CompiledRoute, input: ClientRequest): UpstreamRequest {
  return prepareChecked(compiled, input, checkTarget(compiled, input.method, input.target, input.protocol));
}

/** A request target already split, validated and matched to a protocol the route serves. */
export interface CheckedTarget {
  readonly path: string;
  readonly query: string;
  readonly protocol: Protocol;
}

/** Splits and validates a target and resolves its protocol (the checks of {@link prepareUpstreamRequest}). */
export function checkTarget(compiled: CompiledRoute, method: string, target: string, protocol?: Protocol): CheckedTarget {
  const { path, query } = splitTarget(target);
  validateTarget(path, query);
  return { path, query, protocol: resolveProtocol(compiled, method, path, protocol) };
}

/** {@link prepareUpstreamRequest} for a target already checked with {@link checkTarget} (no repeated work). */
export function prepareChecked(compiled: CompiledRoute, input: ClientRequest, checked: CheckedTarget): UpstreamRequest {
  const { route } = compiled;
  const { path: clientPath, query, protocol } = checked;
  const headers = buildUpstreamHeaders(input.rawHeaders, compiled.headers);

  let body = input.body;
  let stream = false;
  if (body !== undefined && body.length > 0) {
    if (compiled.vertexAnthropic && protocol === 'anthropic_messages') {
      const shaped = shapeVertexAnthropicBody(body);
      body = shaped.body;
      stream = shaped.stream;
    } else if (route.model !== undefined && !route.modelInPath && protocol !== 'aws_bedrock_invoke') {
      body = pinModel(body, route.model);
    }
  }
  const path = buildUpstreamPath(route, compiled.base, protocol, clientPath, query, stream);
  return { protocol, origin: compiled.base.origin, path, method: input.method.toUpperCase(), headers, body };
}
