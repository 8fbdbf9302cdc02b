import { fingerprintSecret } from './crypto/index.js';
import type { InferenceRouteRecord, ProviderRecord, SandboxRecord } from './store/index.js';

/** What replaces every secret value in an API response. */
export const REDACTED_VALUE = 'REDACTED';

/** A provider as the API shows it: credentials read `"REDACTED"`, with a short fingerprint per key. */
export interface ProviderView {
  id: string;
  name: string;
  type: string;
  credentials: Record<string, string>;
  fingerprints: Record<string, string>;
  config: Record<string, string>;
  credentialExpiresAt: Record<string, number>;
  resourceVersion: number;
  createdAt: number;
  updatedAt: number;
}

/** The API view of a provider record; never contains a secret value. */
export function providerView(p: ProviderRecord): ProviderView {
  const keys = Object.keys(p.credentials).sort();
  return {
    id: p.id,
    name: p.name,
    type: p.type,
    credentials: Object.fromEntries(keys.map((k) => [k, REDACTED_VALUE])),
    fingerprints: Object.fromEntries(keys.map((k) => [k, fingerprintSecret(p.credentials[k] ?? '')])),
    config: { ...p.config },
    credentialExpiresAt: { ...p.credentialExpiresAt },
    resourceVersion: p.resourceVersion,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  };
}

/** The API view of an inference route. */
export function routeView(r: InferenceRouteRecord): Record<string, unknown> {
  return {
    name: r.name,
    provider: r.provider,
    ...(r.model === undefined ? {} : { model: r.model }),
    ...(r.timeoutSeconds === undefined ? {} : { timeoutSeconds: r.timeoutSeconds }),
    resourceVersion: r.resourceVersion,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

/** The API view of a sandbox (never its token hashes). */
export function sandboxView(s: SandboxRecord): Record<string, unknown> {
  return {
    id: s.id,
    name: s.name,
    providers: [...s.providers],
    resourceVersion: s.resourceVersion,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
  };
}
