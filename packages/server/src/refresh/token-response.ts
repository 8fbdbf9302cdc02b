import { Secret } from '@openshell/core';

/** A successful token response, secrets wrapped. */
export interface TokenGrant {
  readonly accessToken: Secret;
  /** Present when the server rotated the refresh token; absent means keep the old one. */
  readonly refreshToken?: Secret;
  /** Seconds, as sent. */
  readonly expiresIn?: number;
}

/** A token endpoint's 200 answer parsed into a grant, or why it is unusable. */
export type ParsedTokenResponse = { readonly ok: true; readonly grant: TokenGrant } | { readonly ok: false; readonly reason: string };

/**
 * Parses a 2xx token-endpoint body (reference §2.3): `access_token` required, `refresh_token`
 * optional (blank = absent), `expires_in` seconds (number or numeric string). The reason on failure
 * never quotes the body.
 */
export function parseTokenResponse(body: string): ParsedTokenResponse {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'body is not JSON' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { ok: false, reason: 'body is not a JSON object' };
  const record = json as Record<string, unknown>;
  const access = record.access_token;
  if (typeof access !== 'string' || access.trim() === '') return { ok: false, reason: 'access_token is missing or empty' };
  const refresh = record.refresh_token;
  if (refresh !== undefined && refresh !== null && typeof refresh !== 'string') return { ok: false, reason: 'refresh_token is not a string' };
  let expiresIn: number | undefined;
  const raw = record.expires_in;
  if (typeof raw === 'number' && Number.isFinite(raw)) expiresIn = raw;
  else if (typeof raw === 'string' && /^\d+$/.test(raw.trim())) expiresIn = Number(raw.trim());
  else if (raw !== undefined && raw !== null) return { ok: false, reason: 'expires_in is not a number' };
  return {
    ok: true,
    grant: {
      accessToken: new Secret(access.trim()),
      ...(typeof refresh === 'string' && refresh.trim() !== '' ? { refreshToken: new Secret(refresh.trim()) } : {}),
      ...(expiresIn !== undefined && expiresIn > 0 ? { expiresIn } : {}),
    },
  };
}
