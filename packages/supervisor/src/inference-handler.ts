import { type BundleRoute, detectProtocol } from '@openshell/core';
import {
  createForwarder,
  type ErrorShape,
  errorShapeFor,
  type Forwarder,
  type ForwarderSettings,
  type ForwardResult,
  type ResponseSink,
  RouterError,
  sendRouterError,
  shapedErrorBody,
} from '@openshell/router';
import type { BundleSync } from './bundle-sync.js';
import { INFERENCE_HOST } from './egress-policy.js';
import type { Logger } from './logger.js';
import type { LeanRequest, LeanResponse } from './lean-relay.js';
import type { InferenceRequestContext, InferenceRequestHandler } from './proxy-server.js';

/** The inference side of the proxy: the router's forwarder fed with the current route snapshot. */
export interface InferenceService {
  readonly handle: InferenceRequestHandler;
  /** The same for a request read by the proxy's lean front (body already in memory). */
  readonly handleLean: (req: LeanRequest, res: LeanResponse, ctx: InferenceRequestContext) => Promise<void>;
  close(): Promise<void>;
}

/** Options of {@link createInferenceService}. */
export interface InferenceServiceOptions {
  readonly sync: BundleSync;
  readonly log: Logger;
  /** Route the sandbox's `inference.local` requests use (default `inference.local`). */
  readonly routeName?: string;
  /** Extra forwarder settings (upstream TLS CA for tests, pool sizes). */
  readonly forwarder?: Omit<ForwarderSettings, 'onCredentialRejected' | 'onCredentialExpired'>;
}

function fields(method: string, path: string, ctx: InferenceRequestContext, result: ForwardResult, started: number) {
  return {
    method,
    path,
    scheme: ctx.scheme,
    status: result.status,
    attempts: result.attempts,
    provider: result.route.providerName,
    ms: Date.now() - started,
    error: result.error?.code,
  };
}

/** Answers a supervisor-level refusal (no usable route) in the protocol's shape, like the router's own errors. */
function sendShaped(res: ResponseSink, shape: ErrorShape, status: number, code: string, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = shapedErrorBody(shape, status, code, message);
  res.writeHead(status, ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(body)), 'x-openshell-error', code]);
  res.end(body);
}

/**
 * Creates the handler for requests to `inference.local`: takes a snapshot of the route (refetching
 * first when its credential has expired), forwards with the router, and on an upstream 401 reports
 * the credential to the gateway and lets the router retry once with the rotated one.
 */
export function createInferenceService(options: InferenceServiceOptions): InferenceService {
  const { sync, log } = options;
  const routeName = options.routeName ?? INFERENCE_HOST;
  const forwarder: Forwarder = createForwarder({
    // The router's lean HTTP/1.1 client: about a fifth of the CPU per request of undici here (bench/analysis.md).
    transport: 'h1',
    ...options.forwarder,
    onCredentialRejected: (route) => sync.credentialRejected(route.name, route.credential.fingerprint),
    onCredentialExpired: async (route) => {
      const fresh = await sync.usableRoute(route.name);
      if (!('unavailable' in fresh)) return fresh;
      return fresh.unavailable === 'reauth_required' ? { refuse: { message: fresh.fix ?? fresh.message } } : undefined;
    },
  });

  /** Shared by both fronts: route snapshot, refusal in the protocol's shape, forwarding, one log line. */
  const serve = async (
    method: string,
    path: string,
    res: ResponseSink,
    ctx: InferenceRequestContext,
    send: (route: BundleRoute) => Promise<ForwardResult>,
  ): Promise<void> => {
    const started = Date.now();
    const q = path.indexOf('?');
    const pathOnly = q === -1 ? path : path.slice(0, q);
    const route = sync.usableRouteNow(routeName) ?? (await sync.usableRoute(routeName));
    if ('unavailable' in route) {
      const shape = errorShapeFor(detectProtocol(method, pathOnly), undefined);
      log.warn('inference request refused', { method, path: pathOnly, reason: route.unavailable });
      if (route.unavailable === 'reauth_required') sendRouterError(res, shape, new RouterError('reauth_required', route.message));
      else sendShaped(res, shape, 503, route.unavailable, route.message);
      return;
    }
    const result = await send(route);
    if (result.error !== undefined && result.error.code !== 'client_disconnected') {
      log.warn('inference request failed', fields(method, pathOnly, ctx, result, started));
    } else {
      // One line per model call would scribble over an agent's terminal UI: debug, not info.
      log.debug('inference request', fields(method, pathOnly, ctx, result, started));
    }
  };

  const handle: InferenceRequestHandler = (req, res, ctx) => {
    const method = req.method ?? 'GET';
    return serve(method, ctx.path, res, ctx, (route) => forwarder.forward(req, res, route, { target: ctx.path }));
  };

  const handleLean = (req: LeanRequest, res: LeanResponse, ctx: InferenceRequestContext) =>
    serve(req.method, req.path, res, ctx, (route) => forwarder.forwardBuffered({ method: req.method, target: req.path, rawHeaders: req.rawHeaders, body: req.body }, res, route));

  return { handle, handleLean, close: () => forwarder.close() };
}
