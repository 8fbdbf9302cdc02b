import { type BundleRoute, OpenShellError, parseRouteBundle, type RouteBundle, type Secret } from '@openshell/core';
import { Agent, type Dispatcher, request } from 'undici';
import { SupervisorError } from './errors.js';
import type { Logger } from './logger.js';

/** The injectable environment the gateway allows into the sandbox child. */
export interface SandboxEnvironment {
  readonly revision: string;
  readonly environment: Readonly<Record<string, string>>;
}

/** Why no usable route could be served; `message` is safe to show the sandbox client. */
export interface RouteUnavailable {
  readonly unavailable: 'no_route' | 'credential_expired' | 'reauth_required';
  readonly message: string;
  /** For `reauth_required`: the fix alone (the router prefixes the provider). */
  readonly fix?: string;
}

/** The gateway said the rejected credential cannot be refreshed without a person; `message` names the fix. */
export interface CredentialRefused {
  readonly refuse: { readonly message: string };
}

/** Options of {@link createBundleSync}. */
export interface BundleSyncOptions {
  /** Gateway base URL, e.g. `http://127.0.0.1:8787`. */
  readonly gatewayUrl: string;
  /** The sandbox token; sent only to the gateway, as a bearer. */
  readonly token: Secret;
  readonly log: Logger;
  /** PEM of a CA to trust for an https gateway with a private certificate. */
  readonly gatewayCaPem?: string;
  /** Long-poll hold asked of the gateway, seconds (default 25). */
  readonly waitSeconds?: number;
  /** Give up starting after this long without reaching the gateway (default 120 s). */
  readonly startTimeoutMs?: number;
  /** First retry delay and cap for start and long-poll failures (default 500 ms, 15 s). */
  readonly retry?: { readonly initialMs: number; readonly maxMs: number };
  /** A credential this close to `expiresAt` counts as expired (default 5 s). */
  readonly expirySkewMs?: number;
  /** Clock (epoch ms), for tests. */
  readonly now?: () => number;
}

/** Keeps one supervisor's view of its sandbox's routes current. */
export interface BundleSync {
  /** Fetches environment and bundle, retrying with backoff while the gateway is unreachable. */
  start(): Promise<{ environment: SandboxEnvironment; bundle: RouteBundle }>;
  /** Runs the long-poll loop in the background until `close()`. */
  watch(): void;
  /** The current bundle (an immutable snapshot; a request keeps the one it started with). */
  snapshot(): RouteBundle;
  /**
   * The route `name` with a credential that is not past its expiry: refetches first when the
   * snapshot's credential has expired, and says why when the gateway has nothing fresh.
   */
  usableRoute(name: string): Promise<BundleRoute | RouteUnavailable>;
  /**
   * The same answer without waiting, when the snapshot already has a usable route `name` (the usual
   * case on the proxy's hot path); undefined whenever {@link usableRoute} would have more to do.
   */
  usableRouteNow(name: string): BundleRoute | undefined;
  /**
   * Reports that the upstream answered 401 to the credential with `fingerprint`; returns the route
   * with a different (rotated) credential, a refusal naming the fix when the gateway says
   * `reauth_required` (later requests with that credential are then refused before they are sent),
   * or undefined when the gateway has nothing new to offer.
   */
  credentialRejected(name: string, fingerprint: string): Promise<BundleRoute | CredentialRefused | undefined>;
  /** Subscribes to bundle changes (after the first). */
  onUpdate(listener: (bundle: RouteBundle, previous: RouteBundle) => void): void;
  /** Stops the long-poll loop and releases connections. */
  close(): Promise<void>;
}

const USER_AGENT = 'openshell-supervisor';

function headerText(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

/** The fix for a credential the gateway cannot refresh on its own (secret-free). */
export function reauthMessage(provider: string, providerType: string | undefined, gatewayFix: string | undefined): string {
  if (gatewayFix !== undefined) return gatewayFix;
  const how =
    providerType === 'anthropic-oauth'
      ? `openshell provider update ${provider} --from-claude-login (or --oauth-login)`
      : `openshell provider update ${provider} with a fresh credential`;
  return `the upstream rejected the credential and the gateway cannot refresh it without you; run \`${how}\`, then retry (details: openshell provider refresh status ${provider})`;
}

function isExpired(route: BundleRoute, now: number, skewMs: number): boolean {
  const exp = route.credential.expiresAt;
  return exp !== undefined && exp - skewMs <= now;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

function describeNetworkError(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
    const code = (err as Error & { code?: string }).code ?? cause?.code;
    return code !== undefined ? `${code}: ${cause?.message ?? err.message}` : err.message;
  }
  return String(err);
}

/** Creates the gateway client of one supervisor run: start-up fetch, long-poll, expiry and 401 handling. */
export function createBundleSync(options: BundleSyncOptions): BundleSync {
  const { log } = options;
  const base = options.gatewayUrl.replace(/\/+$/, '');
  const now = options.now ?? Date.now;
  const skew = options.expirySkewMs ?? 5_000;
  const waitSeconds = options.waitSeconds ?? 25;
  const retry = options.retry ?? { initialMs: 500, maxMs: 15_000 };
  const agent: Dispatcher = new Agent({
    connect: { timeout: 10_000, ...(options.gatewayCaPem !== undefined ? { ca: options.gatewayCaPem } : {}) },
    keepAliveTimeout: 30_000,
  });
  const stop = new AbortController();
  const listeners: Array<(b: RouteBundle, p: RouteBundle) => void> = [];
  let current: RouteBundle | undefined;
  /** Last version of each route seen, so an error can name the provider after the route vanished. */
  const lastSeen = new Map<string, BundleRoute>();
  let refetching: Promise<void> | undefined;
  const rejecting = new Map<string, Promise<BundleRoute | CredentialRefused | undefined>>();
  /** Credentials the gateway declared `reauth_required`, by route: fingerprint and the fix to show. */
  const needsReauth = new Map<string, { fingerprint: string; provider: string; fix: string }>();
  let watching = false;

  async function call(method: 'GET' | 'POST', path: string, opts: { body?: unknown; timeoutMs: number; onHeaders?: (h: Dispatcher.ResponseData['headers']) => void }): Promise<unknown> {
    let res: Dispatcher.ResponseData;
    try {
      res = await request(`${base}${path}`, {
        method,
        dispatcher: agent,
        signal: stop.signal,
        headersTimeout: opts.timeoutMs,
        bodyTimeout: opts.timeoutMs,
        headers: {
          authorization: `Bearer ${options.token.reveal()}`,
          accept: 'application/json',
          'user-agent': USER_AGENT,
          ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
      });
    } catch (err) {
      throw new SupervisorError('gateway_unreachable', `cannot reach the gateway at ${base} (${describeNetworkError(err)}); is it running? (openshell gateway start)`, {
        cause: err,
      });
    }
    const text = await res.body.text();
    opts.onHeaders?.(res.headers);
    if (res.statusCode === 401 || res.statusCode === 403) {
      throw new SupervisorError(
        'gateway_rejected',
        `the gateway at ${base} refused this sandbox's token (HTTP ${res.statusCode}); start the sandbox again with \`openshell sandbox run\` to get a fresh token`,
      );
    }
    if (res.statusCode < 200 || res.statusCode >= 300) {
      let detail = '';
      try {
        const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
        detail = parsed.error?.message !== undefined ? `: ${parsed.error.code ?? 'error'}: ${parsed.error.message}` : '';
      } catch {
        // not JSON; keep the status only
      }
      throw new SupervisorError('gateway_unreachable', `the gateway at ${base} answered ${method} ${path.split('?')[0]} with HTTP ${res.statusCode}${detail}`, {
        details: { status: res.statusCode },
      });
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new SupervisorError('gateway_protocol', `the gateway at ${base} answered ${path.split('?')[0]} with something that is not JSON`, { cause: err });
    }
  }

  function parseBundle(body: unknown): RouteBundle {
    try {
      return parseRouteBundle(body);
    } catch (err) {
      if (OpenShellError.isInstance(err)) throw new SupervisorError('gateway_protocol', `the gateway sent a route bundle this supervisor refuses: ${err.message}`, { cause: err });
      throw err;
    }
  }

  function adopt(next: RouteBundle): void {
    const previous = current;
    if (previous !== undefined && previous.revision === next.revision) return;
    current = next;
    for (const r of next.routes) lastSeen.set(r.name, r);
    if (previous === undefined) return;
    log.info('route bundle updated', { revision: next.revision, routes: next.routes.length });
    for (const l of listeners) l(next, previous);
  }

  async function fetchBundle(waitFor: number): Promise<RouteBundle> {
    const revision = current?.revision;
    const query = revision === undefined ? '' : `?revision=${encodeURIComponent(revision)}&waitSeconds=${waitFor}`;
    const bundle = parseBundle(await call('GET', `/v1/sandbox/bundle${query}`, { timeoutMs: (waitFor + 15) * 1000 }));
    adopt(bundle);
    return bundle;
  }

  async function fetchEnvironment(): Promise<SandboxEnvironment> {
    const body = (await call('GET', '/v1/sandbox/environment', { timeoutMs: 15_000 })) as Record<string, unknown> | null;
    const env = body?.environment;
    if (typeof body !== 'object' || body === null || typeof env !== 'object' || env === null || Array.isArray(env)) {
      throw new SupervisorError('gateway_protocol', 'the gateway sent a sandbox environment without an `environment` object');
    }
    const environment: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || typeof v !== 'string') {
        throw new SupervisorError('gateway_protocol', `the gateway sent an invalid sandbox environment entry '${k.slice(0, 64)}'`);
      }
      environment[k] = v;
    }
    return { revision: typeof body.revision === 'string' ? body.revision : '', environment };
  }

  const backoff = (attempt: number) => {
    const ms = Math.min(retry.maxMs, retry.initialMs * 2 ** attempt);
    return Math.round(ms / 2 + Math.random() * (ms / 2));
  };

  async function refetchNow(): Promise<void> {
    refetching ??= fetchBundle(0)
      .then(() => undefined)
      .finally(() => {
        refetching = undefined;
      });
    return refetching;
  }

  function unavailable(name: string, reason: RouteUnavailable['unavailable'], cause?: string): RouteUnavailable {
    const seen = lastSeen.get(name);
    if (reason === 'credential_expired' && seen !== undefined) {
      const at = seen.credential.expiresAt === undefined ? 'earlier' : `at ${new Date(seen.credential.expiresAt).toISOString()}`;
      return {
        unavailable: reason,
        message: `OpenShell: the credential of provider '${seen.providerName}' for route '${name}' expired ${at} and the gateway has no fresh one${cause === undefined ? '' : ` (${cause})`}; check \`openshell provider refresh status ${seen.providerName}\``,
      };
    }
    if (seen !== undefined) {
      return {
        unavailable: reason,
        message: `OpenShell: route '${name}' (provider '${seen.providerName}') is not in this sandbox's current route bundle; the gateway may have been unable to resolve it — check \`openshell provider refresh status ${seen.providerName}\` and \`openshell inference get\``,
      };
    }
    return {
      unavailable: reason,
      message: `OpenShell: no inference route named '${name}' is configured for this sandbox; set one with \`openshell inference set --provider NAME --model MODEL\` and bind the provider to the sandbox`,
    };
  }

  /**
   * Tells the gateway the upstream refused `fingerprint` on route `name` and adopts the bundle it
   * answers with: a fresh route to retry with, a refusal naming the fix (`reauth_required`), or
   * undefined when nothing new came back.
   */
  async function reportRejected(name: string, fingerprint: string): Promise<BundleRoute | CredentialRefused | undefined> {
    let result: string | undefined;
    let fix: string | undefined;
    try {
      const body = await call('POST', `/v1/sandbox/routes/${encodeURIComponent(name)}/credential-rejected`, {
        body: { fingerprint },
        timeoutMs: 30_000,
        onHeaders: (h) => {
          result = headerText(h['openshell-refresh-result']);
          fix = headerText(h['openshell-refresh-message']);
        },
      });
      adopt(parseBundle(body));
    } catch (err) {
      log.warn('reporting a rejected credential to the gateway failed', { route: name, error: err instanceof Error ? err.message : String(err) });
      return undefined;
    }
    const route = current?.routes.find((r) => r.name === name);
    if (result === 'reauth_required' && (route === undefined || route.credential.fingerprint === fingerprint)) {
      const provider = route?.providerName ?? lastSeen.get(name)?.providerName ?? name;
      const message = reauthMessage(provider, route?.providerType ?? lastSeen.get(name)?.providerType, fix);
      needsReauth.set(name, { fingerprint, provider, fix: message });
      log.warn('the gateway says the credential needs re-authorization; refusing requests until it changes', { route: name, provider });
      return { refuse: { message } };
    }
    if (route === undefined || route.credential.fingerprint === fingerprint || isExpired(route, now(), skew)) return undefined;
    log.info('credential rotated after an upstream 401', { route: name });
    return route;
  }

  return {
    async start() {
      const deadline = now() + (options.startTimeoutMs ?? 120_000);
      for (let attempt = 0; ; attempt++) {
        try {
          const environment = await fetchEnvironment();
          const bundle = await fetchBundle(0);
          if (attempt > 0) log.info('gateway reachable again', { gateway: base });
          return { environment, bundle };
        } catch (err) {
          if (!(err instanceof SupervisorError) || err.code !== 'gateway_unreachable' || stop.signal.aborted) throw err;
          const delay = backoff(attempt);
          if (now() + delay > deadline) throw err;
          log.warn(`${err.message}; retrying`, { inSeconds: Math.round(delay / 100) / 10 });
          await sleep(delay, stop.signal);
        }
      }
    },

    watch() {
      if (watching) return;
      watching = true;
      void (async () => {
        let failures = 0;
        while (!stop.signal.aborted) {
          try {
            await fetchBundle(waitSeconds);
            if (failures > 0) log.info('bundle sync recovered', { gateway: base });
            failures = 0;
          } catch (err) {
            if (stop.signal.aborted) break;
            failures++;
            const delay = backoff(Math.min(failures, 10));
            const message = err instanceof Error ? err.message : String(err);
            // Keep serving the last bundle: a gateway outage must never turn inference off.
            if (failures === 1 || failures % 10 === 0) log.warn(`bundle sync failed, keeping the current routes: ${message}`, { failures });
            await sleep(delay, stop.signal);
          }
        }
      })();
    },

    snapshot() {
      if (current === undefined) throw new Error('bundle sync not started');
      return current;
    },

    usableRouteNow(name) {
      if (needsReauth.has(name)) return undefined;
      const route = current?.routes.find((r) => r.name === name);
      return route !== undefined && !isExpired(route, now(), skew) ? route : undefined;
    },

    async usableRoute(name) {
      let route = current?.routes.find((r) => r.name === name);
      const reauth = needsReauth.get(name);
      if (reauth !== undefined) {
        // Still the credential the gateway gave up on: do not send it again.
        if (route === undefined || route.credential.fingerprint === reauth.fingerprint) {
          return { unavailable: 'reauth_required', message: `provider '${reauth.provider}' needs re-authorization: ${reauth.fix}`, fix: reauth.fix };
        }
        needsReauth.delete(name);
      }
      if (route !== undefined && !isExpired(route, now(), skew)) return route;
      let cause: string | undefined;
      if (route !== undefined || lastSeen.has(name)) {
        // Never send a credential past its expiry: ask the gateway first.
        try {
          await refetchNow();
        } catch (err) {
          cause = err instanceof SupervisorError ? `gateway: ${err.code}` : 'gateway unreachable';
        }
        route = current?.routes.find((r) => r.name === name);
        if (route !== undefined && !isExpired(route, now(), skew)) return route;
        if (route !== undefined || lastSeen.get(name)?.credential.expiresAt !== undefined) {
          const seen = route ?? lastSeen.get(name);
          if (seen !== undefined && isExpired(seen, now(), skew)) return unavailable(name, 'credential_expired', cause);
        }
      }
      return unavailable(name, 'no_route');
    },

    credentialRejected(name, fingerprint) {
      // One report per route and credential at a time: concurrent 401s share its answer.
      const key = `${name}\u0000${fingerprint}`;
      let pending = rejecting.get(key);
      if (pending === undefined) {
        pending = reportRejected(name, fingerprint).finally(() => rejecting.delete(key));
        rejecting.set(key, pending);
      }
      return pending;
    },

    onUpdate(listener) {
      listeners.push(listener);
    },

    async close() {
      stop.abort();
      await agent.destroy().catch(() => undefined);
    },
  };
}
