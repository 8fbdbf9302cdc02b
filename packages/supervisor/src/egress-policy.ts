import { isIP } from 'node:net';
import type { EgressRule } from '@openshell/core';

/** The host clients inside the sandbox use for model access. */
export const INFERENCE_HOST = 'inference.local';

/** A network destination as a client asked for it. */
export interface Destination {
  /** Lowercase, without a trailing dot or IPv6 brackets. */
  readonly host: string;
  readonly port: number;
}

/** The outcome of checking one destination. */
export type EgressDecision = { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

/** Lowercases a host and drops a trailing dot and IPv6 brackets. */
export function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

/** True when `host` names the inference endpoint (`inference.local`, any case, optional trailing dot). */
export function isInferenceHost(host: string): boolean {
  return normalizeHost(host) === INFERENCE_HOST;
}

function parsePort(text: string): number | undefined {
  if (!/^[0-9]{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : undefined;
}

/** Parses a `CONNECT` target (`host:port` or `[v6]:port`); undefined when malformed. */
export function parseConnectTarget(target: string): Destination | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]@]+):([0-9]+)$/.exec(target);
  if (m === null) return undefined;
  const port = parsePort(m[2] ?? '');
  const host = normalizeHost(m[1] ?? '');
  if (port === undefined || host === '') return undefined;
  return { host, port };
}

/** Parses an absolute-URI request target (`http://host[:port]/path`); undefined for origin-form or junk. */
export function parseAbsoluteTarget(target: string): (Destination & { readonly scheme: 'http' | 'https'; readonly path: string }) | undefined {
  if (!/^https?:\/\//i.test(target)) return undefined;
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return undefined;
  }
  if (url.username !== '' || url.password !== '') return undefined;
  const scheme = url.protocol === 'https:' ? 'https' : 'http';
  const port = url.port === '' ? (scheme === 'https' ? 443 : 80) : parsePort(url.port);
  const host = normalizeHost(url.hostname);
  if (port === undefined || host === '') return undefined;
  return { scheme, host, port, path: `${url.pathname}${url.search}` };
}

/** Parses a `Host` header (`name[:port]`); undefined when malformed. */
export function parseHostHeader(value: string | undefined, defaultPort: number): Destination | undefined {
  if (value === undefined || value === '') return undefined;
  const m = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]@]+)(?::([0-9]+))?$/.exec(value.trim());
  if (m === null) return undefined;
  const port = m[2] === undefined ? defaultPort : parsePort(m[2]);
  if (port === undefined) return undefined;
  return { host: normalizeHost(m[1] ?? ''), port };
}

function hostMatches(ruleHost: string, host: string): boolean {
  const rule = normalizeHost(ruleHost);
  if (rule.startsWith('*.')) {
    // `*.example.com` covers subdomains only, never the bare domain or an IP literal.
    return isIP(host) === 0 && host.endsWith(rule.slice(1)) && host.length > rule.length - 1;
  }
  return rule === host;
}

/** Decides whether a `CONNECT` tunnel to `dest` is allowed by the bundle's egress allow-list. */
export function decideEgress(dest: Destination, rules: readonly EgressRule[]): EgressDecision {
  if (rules.some((r) => r.port === dest.port && hostMatches(r.host, dest.host))) return { allowed: true };
  const sameHost = rules.some((r) => hostMatches(r.host, dest.host));
  return {
    allowed: false,
    reason: sameHost
      ? `port ${dest.port} of ${dest.host} is not in this sandbox's egress allow-list`
      : `${dest.host}:${dest.port} is not in this sandbox's egress allow-list (bind a provider whose profile lists it)`,
  };
}

/** Formats a destination for logs and error bodies (`host:port`, IPv6 bracketed). */
export function formatDestination(dest: Destination): string {
  return `${dest.host.includes(':') ? `[${dest.host}]` : dest.host}:${dest.port}`;
}
