import type { Forwarder } from '@openshell/router';
import { type FastifyInstance, type FastifyReply, fastify } from 'fastify';
import type { LevelWithSilent, Logger } from 'pino';
import { ensureAdminToken } from './admin-bootstrap.js';
import { defaultConfigDir, defaultDataDir, writeGatewayEntry } from './admin-token-file.js';
import { AdminTokenCache, authenticate, authorize, requirementForPath } from './auth.js';
import type { Catalogue } from './catalogue.js';
import { loadCatalogue } from './catalogue-loader.js';
import { ChangeHub } from './change-hub.js';
import { fingerprintSecret, loadKek } from './crypto/index.js';
import type { GatewayContext } from './gateway-context.js';
import { toErrorResponse } from './http-errors.js';
import { useJsonBodyParser } from './json-body.js';
import { checkListenPolicy } from './listen-policy.js';
import { createLogger } from './logger.js';
import { GatewayMetrics } from './metrics.js';
import { createRefreshEngine, type RefreshEngine, refreshRoutes } from './refresh/index.js';
import { registeringStore } from './registering-store.js';
import { registerInferenceRoutes } from './routes/inference-routes.js';
import { registerProfileRoutes } from './routes/profiles.js';
import { registerProviderVerifyRoute } from './routes/provider-verify.js';
import { registerProviderRoutes } from './routes/providers.js';
import { registerSandboxApiRoutes } from './routes/sandbox-api.js';
import { registerSandboxRoutes } from './routes/sandboxes.js';
import { registerSystemRoutes } from './routes/system.js';
import { sandboxBundle } from './sandbox-resolution.js';
import { SecretRegistry } from './secret-registry.js';
import { openStore, type Store } from './store/index.js';
import type { RouteProbe } from './verify-probe.js';

/** Options of {@link createGateway} (coord.md: the gateway process contract). */
export interface GatewayOptions {
  /** Data dir (SQLite `gateway.db`, key file `kek`); default `${XDG_DATA_HOME:-~/.local/share}/openshell/gateway`. */
  readonly dataDir?: string;
  /** `postgres://…` to use Postgres (several replicas) instead of the embedded SQLite. */
  readonly databaseUrl?: string;
  /** Postgres schema (tests give each run its own); default `public`. */
  readonly databaseSchema?: string;
  /** Admin YAML provider profiles (may shadow built-ins). */
  readonly profilesDir?: string;
  /** Default `127.0.0.1:8787`; port 0 picks a free port. */
  readonly listen?: { readonly host: string; readonly port: number };
  /** PEM certificate chain and key: serve HTTPS. */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** CA certificate file clients should trust (a self-signed `tls.cert`), recorded in the CLI gateway entry. */
  readonly caCertFile?: string;
  /** Allow a non-loopback listen address without TLS (behind a TLS-terminating proxy). */
  readonly insecure?: boolean;
  readonly logLevel?: LevelWithSilent;
  /** Where log lines go (default stderr); tests capture them. */
  readonly logStream?: NodeJS.WritableStream;
  /** Key-encryption key (32 bytes); default `OPENSHELL_KEK`, `kekFile`, or the data dir's `kek` file. */
  readonly kek?: Buffer;
  readonly kekFile?: string;
  /** CLI config dir (admin token file, gateway entry); default `${XDG_CONFIG_HOME:-~/.config}/openshell`. */
  readonly configDir?: string;
  /** Gateway name (`gateways/<name>.token`); default `local`. */
  readonly name?: string;
  /** Epoch-ms clock (tests). */
  readonly clock?: () => number;
  /** Verification probe of `PUT /v1/inference/routes/:route`; default sends a real request upstream. */
  readonly probe?: RouteProbe;
  /** Cap of the bundle long-poll `waitSeconds`; default 60. */
  readonly maxWaitSeconds?: number;
  /** Run the credential refresh engine (default true). */
  readonly refresh?: boolean;
  /** Environment for `OPENSHELL_KEK` (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** A gateway instance: the fastify app, its store, and its lifecycle. */
export interface Gateway {
  readonly app: FastifyInstance;
  readonly store: Store;
  readonly catalogue: Catalogue;
  readonly logger: Logger;
  readonly secrets: SecretRegistry;
  readonly refreshEngine: RefreshEngine | undefined;
  /** Where the admin token file is (when this machine has one). */
  readonly adminTokenFile: string | undefined;
  /** Base URL once listening (`https://127.0.0.1:8787`), else undefined. */
  readonly url: string | undefined;
  /** Listens, writes the CLI gateway entry, starts the refresh engine; returns the URL. */
  start(): Promise<string>;
  /** Graceful shutdown: releases long polls, lets in-flight requests finish, stops refresh, closes the store. */
  close(): Promise<void>;
}

const DEFAULT_LISTEN = { host: '127.0.0.1', port: 8787 } as const;
const BODY_LIMIT = 1024 * 1024;
const MAX_PARAM_LENGTH = 1024;

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/**
 * Creates the gateway: validates options (listen policy, profiles), opens the store (migrations
 * applied, key checked), bootstraps the admin token and builds the fastify app. Call `start()` to
 * listen, or use `app.inject()` directly.
 */
export async function createGateway(options: GatewayOptions = {}): Promise<Gateway> {
  const listen = options.listen ?? DEFAULT_LISTEN;
  checkListenPolicy(listen.host, options.tls !== undefined, options.insecure === true);
  const registry = new SecretRegistry();
  const logger = createLogger({ registry, level: options.logLevel, stream: options.logStream });
  const now = options.clock ?? Date.now;
  const name = options.name ?? 'local';
  const configDir = options.configDir ?? defaultConfigDir();
  const dataDir = options.dataDir ?? defaultDataDir();

  const { catalogue, shadowed } = await loadCatalogue(options.profilesDir);
  for (const s of shadowed) logger.warn({ profile: s.id, source: s.source }, 'admin profile shadows the built-in profile with the same id');
  if (options.profilesDir !== undefined) {
    logger.info({ profilesDir: options.profilesDir, profiles: [...catalogue.sources].filter(([, src]) => src !== 'builtin').map(([id]) => id) }, 'admin profiles loaded');
  }

  const kek = options.kek ?? loadKek({ dataDir, ...(options.kekFile === undefined ? {} : { kekFile: options.kekFile }), env: options.env ?? process.env }).kek;
  registry.register(kek.toString('base64'));
  const rawStore = await openStore({
    dataDir,
    kek,
    clock: now,
    ...(options.databaseUrl === undefined ? {} : { databaseUrl: options.databaseUrl }),
    ...(options.databaseSchema === undefined ? {} : { schema: options.databaseSchema }),
  });
  const store = registeringStore(rawStore, registry);
  let bootstrap: { created: boolean; tokenFile?: string };
  try {
    bootstrap = await ensureAdminToken({ store, registry, log: logger, configDir, name });
  } catch (err) {
    await store.close();
    throw err;
  }

  let url: string | undefined;
  const closingController = new AbortController();
  const hub = new ChangeHub(store);
  const adminTokens = new AdminTokenCache(store);
  const unwatchAdmin = store.watchChanges((c) => {
    // `*` = the Postgres listener reconnected and may have missed changes: re-read.
    if (c.kind === 'admin' || c.name === '*') adminTokens.invalidate();
  });
  const metrics = new GatewayMetrics();
  // The verification probe goes through the router, exactly like the boundary's requests. The router
  // (and undici under it) is loaded and its forwarder created on the first probe, not at start-up:
  // nothing else in the gateway uses it.
  let forwarder: Forwarder | undefined;
  let forwarderClosed = false;
  let routeProbe: Promise<RouteProbe> | undefined;
  const loadRouteProbe = async (): Promise<RouteProbe> => {
    const [{ createForwarder }, { createRouteProbe }] = await Promise.all([import('@openshell/router'), import('./verify-probe.js')]);
    // A probe racing close() must not open a pool that nothing would close.
    if (forwarderClosed) throw new Error('the gateway is closing');
    forwarder = createForwarder();
    return createRouteProbe(forwarder);
  };
  const lazyProbe: RouteProbe = async (route) => {
    if (routeProbe === undefined) {
      routeProbe = loadRouteProbe();
      // A failed load is not kept: the next probe tries again.
      routeProbe.catch(() => {
        routeProbe = undefined;
      });
    }
    return (await routeProbe)(route);
  };
  const closeForwarder = async () => {
    forwarderClosed = true;
    await forwarder?.close();
  };
  const ctx: GatewayContext = {
    store,
    catalogue,
    registry,
    log: logger,
    now,
    hub,
    metrics,
    adminTokens,
    probe: options.probe ?? lazyProbe,
    configDir,
    name,
    maxWaitSeconds: options.maxWaitSeconds ?? 60,
    closing: closingController.signal,
    url: () => url,
  };

  const refreshEngine =
    options.refresh === false
      ? undefined
      : createRefreshEngine({ store, catalogue: catalogue.profiles, logger, clock: now, fingerprint: fingerprintSecret, secrets: registry });

  let app: FastifyInstance;
  try {
    app = fastify({
      loggerInstance: logger,
      bodyLimit: BODY_LIMIT,
      return503OnClosing: true,
      // Long enough that zod's own limits (128 characters for a name) answer first, naming the parameter.
      routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
      // Errors fastify raises before routing (a malformed URL, an over-long parameter) in the gateway's shape.
      frameworkErrors: (error, _request, reply) => {
        const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
        (reply as unknown as FastifyReply).code(400).send({
          error: {
            code: 'invalid_request',
            message: tooLong ? `a path parameter is longer than ${MAX_PARAM_LENGTH} characters` : 'the URL path is malformed (bad percent-encoding)',
          },
        });
      },
      ...(options.tls === undefined ? {} : { https: { cert: options.tls.cert, key: options.tls.key } }),
    }) as unknown as FastifyInstance;

    // JSON only: a text/plain body is refused with 415 instead of reaching the handlers as a string.
    app.removeContentTypeParser('text/plain');
    useJsonBodyParser(app);
    app.decorateRequest('principal', undefined);
    app.addHook('onRequest', async (request) => {
      const requirement = requirementForPath(request.url);
      if (requirement === 'none') return;
      const principal = await authenticate(request.headers.authorization, { store, admin: adminTokens });
      authorize(principal, requirement);
      request.principal = principal;
    });
    // While closing, answers end their keep-alive connection, so a request that was in flight when
    // close() began does not hold the server open until the keep-alive timeout.
    app.addHook('onSend', async (request, reply, payload) => {
      if (closingController.signal.aborted) reply.header('connection', 'close');
      // API answers may carry a token (sandbox creation, rotation) or credentials (the bundle): never cache.
      if (request.url.startsWith('/v1/')) reply.header('cache-control', 'no-store');
      return payload;
    });
    app.addHook('onResponse', async (request, reply) => {
      metrics.observeRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    });
    app.setErrorHandler((err, request, reply) => {
      const { status, body, internal } = toErrorResponse(err, (s) => registry.scrub(s));
      if (internal) request.log.error({ err }, 'request failed');
      else request.log.info({ code: body.error.code, status }, 'request refused');
      return reply.code(status).send(body);
    });
    app.setNotFoundHandler((request, reply) => {
      const path = request.url.split('?')[0] ?? '';
      return reply.code(404).send({ error: { code: 'not_found', message: `no endpoint ${request.method} ${path}; see architecture/gateway.md for the API` } });
    });

    registerSystemRoutes(app, ctx, refreshEngine === undefined ? [] : [() => refreshEngine.metrics()]);
    registerProfileRoutes(app, ctx);
    registerProviderRoutes(app, ctx);
    registerProviderVerifyRoute(app, ctx);
    registerInferenceRoutes(app, ctx);
    registerSandboxRoutes(app, ctx);
    registerSandboxApiRoutes(app, ctx);
    if (refreshEngine !== undefined) {
      // Authentication already ran in the global onRequest hook (by path); these re-check the principal kind.
      await app.register(refreshRoutes, {
        engine: refreshEngine,
        store,
        requireAdmin: async (request) => authorize(request.principal ?? { kind: 'admin' }, 'admin'),
        requireSandbox: async (request) => {
          if (request.principal === undefined) throw new Error('sandbox route reached without authentication');
          authorize(request.principal, 'sandbox');
        },
        sandboxOf: (request) => (request.principal?.kind === 'sandbox' ? request.principal.sandbox.name : undefined),
        buildBundleFor: (sandbox) => sandboxBundle(ctx, sandbox),
      });
    }

  } catch (err) {
    // Nothing is listening yet: release what was opened so a failed start leaks nothing.
    hub.close();
    unwatchAdmin();
    await closeForwarder();
    await store.close();
    throw err;
  }

  app.addHook('onClose', async () => {
    hub.close();
    unwatchAdmin();
    if (refreshEngine !== undefined) await refreshEngine.stop();
    await closeForwarder();
    await store.close();
  });

  let closed = false;
  return {
    app,
    store,
    catalogue,
    logger,
    secrets: registry,
    refreshEngine,
    adminTokenFile: bootstrap.tokenFile,
    get url() {
      return url;
    },
    async start() {
      await app.listen({ host: listen.host, port: listen.port });
      const address = app.server.address();
      const port = typeof address === 'object' && address !== null ? address.port : listen.port;
      url = `${options.tls === undefined ? 'http' : 'https'}://${urlHost(listen.host)}:${port}`;
      await writeGatewayEntry(configDir, name, url, options.caCertFile);
      if (refreshEngine !== undefined) await refreshEngine.start();
      logger.info({ url, store: store.dialect, name }, 'gateway listening');
      return url;
    },
    async close() {
      if (closed) return;
      closed = true;
      closingController.abort();
      hub.close();
      await app.close();
    },
  };
}
