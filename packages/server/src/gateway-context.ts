import type { Logger } from 'pino';
import type { AdminTokenCache } from './auth.js';
import type { Catalogue } from './catalogue.js';
import type { ChangeHub } from './change-hub.js';
import type { GatewayMetrics } from './metrics.js';
import type { SecretRegistry } from './secret-registry.js';
import type { Store } from './store/index.js';
import type { RouteProbe } from './verify-probe.js';

/** Everything the route handlers share; built once by `createGateway`. */
export interface GatewayContext {
  readonly store: Store;
  readonly catalogue: Catalogue;
  readonly registry: SecretRegistry;
  readonly log: Logger;
  readonly now: () => number;
  readonly hub: ChangeHub;
  readonly metrics: GatewayMetrics;
  readonly adminTokens: AdminTokenCache;
  readonly probe: RouteProbe;
  /** CLI config dir and gateway name: where the admin token file lives (undefined: not written). */
  readonly configDir: string | undefined;
  readonly name: string;
  /** Cap of `waitSeconds` on the bundle long-poll. */
  readonly maxWaitSeconds: number;
  /** The gateway's URL once listening. */
  readonly url: () => string | undefined;
  /** Abort signal fired when the gateway starts closing (releases long polls). */
  readonly closing: AbortSignal;
}
