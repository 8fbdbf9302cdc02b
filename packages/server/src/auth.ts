import type { FastifyRequest } from 'fastify';
import { GatewayError } from './errors.js';
import type { SandboxRecord, SandboxToken, Store } from './store/index.js';
import { ADMIN_TOKEN_PREFIX, bearerToken, hashToken, SANDBOX_TOKEN_PREFIX, tokenMatchesHash } from './tokens.js';

/** Who is calling. */
export type Principal =
  | { readonly kind: 'admin' }
  | { readonly kind: 'sandbox'; readonly sandbox: SandboxRecord; readonly token: SandboxToken };

/** What an endpoint requires. */
export type AuthRequirement = 'none' | 'admin' | 'sandbox';

const PUBLIC_PATHS = new Set(['/healthz', '/readyz']);

/**
 * The requirement of a URL path: `/healthz` and `/readyz` are public, `/v1/sandbox/*` is for
 * sandbox tokens, everything else (unknown paths included: fail closed) is for the admin.
 */
export function requirementForPath(path: string): AuthRequirement {
  const p = path.split('?')[0] ?? path;
  if (PUBLIC_PATHS.has(p)) return 'none';
  if (p === '/v1/sandbox' || p.startsWith('/v1/sandbox/')) return 'sandbox';
  return 'admin';
}

/** Holds the admin token hash, cached and invalidated by the store's change feed. */
export class AdminTokenCache {
  #hash: string | undefined;
  #loaded = false;

  constructor(private readonly store: Store) {}

  invalidate(): void {
    this.#loaded = false;
  }

  set(hash: string): void {
    this.#hash = hash;
    this.#loaded = true;
  }

  async get(): Promise<string | undefined> {
    if (!this.#loaded) {
      this.#hash = await this.store.getAdminTokenHash();
      this.#loaded = true;
    }
    return this.#hash;
  }
}

/**
 * Identifies the caller from `Authorization: Bearer …`: `osa_` tokens are checked against the
 * admin hash (constant time), `oss_` tokens are looked up by hash (unknown, expired, or of a deleted
 * sandbox: `invalid_token`).
 */
export async function authenticate(
  header: string | undefined,
  deps: { store: Store; admin: AdminTokenCache },
): Promise<Principal> {
  if (header === undefined || header.trim() === '') {
    throw new GatewayError('unauthenticated', 'missing Authorization header: send `Authorization: Bearer <token>`');
  }
  const token = bearerToken(header);
  if (token === undefined) {
    throw new GatewayError('unauthenticated', 'the Authorization header must be `Bearer <token>`');
  }
  if (token.startsWith(ADMIN_TOKEN_PREFIX)) {
    const hash = await deps.admin.get();
    if (hash !== undefined && tokenMatchesHash(token, hash)) return { kind: 'admin' };
    throw new GatewayError(
      'invalid_token',
      'the admin token is not valid for this gateway; use the one in the CLI config dir (gateways/<name>.token) or the rotated one',
    );
  }
  if (token.startsWith(SANDBOX_TOKEN_PREFIX)) {
    const found = await deps.store.findSandboxToken(hashToken(token));
    if (found !== undefined) return { kind: 'sandbox', sandbox: found.sandbox, token: found.token };
    throw new GatewayError(
      'invalid_token',
      'the sandbox token is unknown, expired, or its sandbox was deleted; issue a new one with POST /v1/sandboxes/<name>/tokens',
    );
  }
  throw new GatewayError('invalid_token', 'the bearer token is not an OpenShell token (expected an osa_ or oss_ prefix)');
}

/** Checks that `principal` may call an endpoint with `requirement`. */
export function authorize(principal: Principal, requirement: AuthRequirement): void {
  if (requirement === 'admin' && principal.kind !== 'admin') {
    throw new GatewayError('forbidden', 'a sandbox token cannot call admin endpoints; use the admin token');
  }
  if (requirement === 'sandbox' && principal.kind !== 'sandbox') {
    throw new GatewayError('forbidden', '/v1/sandbox/* endpoints are for a sandbox token (its supervisor); the admin token is not accepted there');
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller; undefined on public endpoints. */
    principal: Principal | undefined;
  }
}

/** The sandbox principal of a request on a `/v1/sandbox/*` endpoint. */
export function sandboxPrincipal(request: FastifyRequest): { sandbox: SandboxRecord; token: SandboxToken } {
  const p = request.principal;
  if (p?.kind !== 'sandbox') throw new GatewayError('forbidden', 'this endpoint needs a sandbox token');
  return p;
}
