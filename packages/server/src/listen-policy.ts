import { isIP } from 'node:net';
import { GatewayError } from './errors.js';

/** True for 127.0.0.0/8, ::1, `localhost` and IPv4-mapped loopback. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^::ffff:127\./.test(h);
  return false;
}

/**
 * Refuses a non-loopback listen address without TLS unless `insecure` is set: every admin and
 * sandbox token and every route bundle (which carries credentials) would cross the network in clear.
 */
export function checkListenPolicy(host: string, tls: boolean, insecure: boolean): void {
  if (tls || insecure || isLoopbackHost(host)) return;
  throw new GatewayError(
    'invalid_request',
    `refusing to listen on ${host} without TLS: admin tokens, sandbox tokens and route bundles (which carry credentials) would travel in clear text. Pass --tls-cert and --tls-key, listen on 127.0.0.1, or pass --insecure if a TLS-terminating proxy in front of the gateway protects the traffic`,
    { field: 'listen' },
  );
}
