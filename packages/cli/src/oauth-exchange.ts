import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { checkCredentialUrl } from '@openshell/core';
import { CliError } from './cli-error.js';

/** Tokens from the authorization-code exchange. Secrets: never print them. */
export interface ExchangedTokens {
  readonly accessToken: string;
  readonly refreshToken: string;
  /** Epoch ms. */
  readonly expiresAt: number;
}

/** Parameters of the code exchange (from the profile's refresh block and the PKCE session). */
export interface ExchangeParams {
  readonly tokenUrls: readonly string[];
  readonly clientId: string;
  readonly redirectUri: string;
  readonly code: string;
  readonly verifier: string;
  readonly state: string;
  readonly userAgent?: string;
  readonly timeoutMs?: number;
  readonly now?: () => number;
}

/** Throws unless `raw` is https, or http to a loopback address (core's rule for URLs that receive credentials). */
export function checkTokenUrl(raw: string): URL {
  const problem = checkCredentialUrl("the profile's token URL", raw);
  if (problem !== undefined) throw new CliError('invalid_token_url', problem, { hint: 'Fix token_urls in the provider profile.' });
  return new URL(raw);
}

function post(url: URL, body: string, headers: Record<string, string>, timeoutMs: number): Promise<{ status: number; text: string }> {
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: 'POST', headers, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= 1024 * 1024) chunks.push(c);
      });
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Exchanges an authorization code for tokens: a JSON POST with the PKCE verifier, to each token URL in turn
 * (the next one only on a connection failure or a 404). Redirects are not followed.
 */
export async function exchangeAuthorizationCode(params: ExchangeParams): Promise<ExchangedTokens> {
  const now = params.now ?? Date.now;
  const body = JSON.stringify({
    grant_type: 'authorization_code',
    code: params.code,
    redirect_uri: params.redirectUri,
    client_id: params.clientId,
    code_verifier: params.verifier,
    state: params.state,
  });
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    ...(params.userAgent ? { 'user-agent': params.userAgent } : {}),
  };
  const urls = params.tokenUrls.map(checkTokenUrl);
  if (urls.length === 0) throw new CliError('invalid_profile', 'the provider profile declares no token URL', { hint: 'Add token_urls to the refresh block of the provider profile.' });
  let lastProblem = '';
  for (const url of urls) {
    let res: { status: number; text: string };
    try {
      res = await post(url, body, headers, params.timeoutMs ?? 30_000);
    } catch (err) {
      lastProblem = `${url.origin}: ${(err as NodeJS.ErrnoException).code ?? 'connection failed'}`;
      continue;
    }
    if (res.status === 404) {
      lastProblem = `${url.origin}: HTTP 404`;
      continue;
    }
    let json: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(res.text);
      if (typeof parsed === 'object' && parsed !== null) json = parsed as Record<string, unknown>;
    } catch {
      // not JSON: reported below without quoting the body
    }
    if (res.status < 200 || res.status >= 300) {
      const code = typeof json.error === 'string' ? json.error : undefined;
      const desc = typeof json.error_description === 'string' ? json.error_description.slice(0, 200) : undefined;
      throw new CliError('oauth_exchange_failed', `the token endpoint ${url.origin} refused the authorization code (HTTP ${res.status}${code ? `, ${code}` : ''}${desc ? `: ${desc}` : ''})`, {
        hint: 'Codes are single-use and expire within minutes: run the command again and paste the new code promptly.',
      });
    }
    const access = json.access_token;
    const refresh = json.refresh_token;
    const expiresIn = json.expires_in;
    if (typeof access !== 'string' || access === '') throw new CliError('oauth_exchange_failed', `the token endpoint ${url.origin} answered without an access_token`);
    if (typeof refresh !== 'string' || refresh === '') {
      throw new CliError('oauth_exchange_failed', `the token endpoint ${url.origin} answered without a refresh_token, so the gateway could not keep the login fresh`, {
        hint: 'Use --from-setup-token for a long-lived token without refresh instead.',
      });
    }
    const seconds = typeof expiresIn === 'number' && Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : 3600;
    return { accessToken: access, refreshToken: refresh, expiresAt: now() + Math.round(seconds * 1000) };
  }
  throw new CliError('oauth_exchange_failed', `no token endpoint could be reached (${lastProblem})`, {
    hint: 'Check the network, or the token_urls of the provider profile.',
  });
}
