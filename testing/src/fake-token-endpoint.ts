import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type AccessTokenLedger, createAccessTokenLedger } from './access-token-ledger.js';
import { CLAUDE_CODE_CLIENT_ID, CLAUDE_CODE_SCOPES } from './anthropic-contract.js';
import {
  delay,
  headerValue,
  type LoopbackServer,
  type RecordedRequest,
  sendJson,
  startLoopbackServer,
} from './loopback-server.js';

/** Body encodings a token request may use. */
export type TokenEncoding = 'json' | 'form';

/** A login: what Claude Code stores after signing in. */
export interface FakeLogin {
  accessToken: string;
  /** Absent for inference-only (setup-token style) logins. */
  refreshToken?: string;
  /** Epoch milliseconds. */
  expiresAt: number;
  scopes: string[];
}

/** A forced answer for the next token request(s); none of them spends a refresh token. */
export type FakeTokenBehaviour =
  /** 429 `rate_limit_error` with `Retry-After: retryAfterSeconds` (default 30). */
  | { kind: 'rate-limit'; retryAfterSeconds?: number }
  /** A 5xx (default 503) with a JSON error body. */
  | { kind: 'server-error'; status?: number }
  /** 403 Cloudflare managed-challenge HTML page ("Just a moment..."). */
  | { kind: 'cloudflare-challenge' }
  /** 400 "Invalid request format". */
  | { kind: 'invalid-request-format' }
  /** Wait `ms`, then answer normally. */
  | { kind: 'slow'; ms: number }
  /** Hold before answering until `until` settles, then answer normally. */
  | { kind: 'hold'; until: Promise<unknown> }
  /** Never answer (until the client gives up or close()). */
  | { kind: 'hang' }
  /** Reset the connection without an answer. */
  | { kind: 'destroy' }
  /** Any status and raw body. */
  | { kind: 'raw'; status: number; body: string; contentType?: string; headers?: Record<string, string> };

/** What {@link FakeTokenEndpointOptions.beforeAnswer} is told about a token answer about to be sent. */
export interface TokenAnswerInfo {
  call: RecordedRequest;
  status: number;
  grantType?: string;
  /** Tokens issued by this answer (the refresh token already rotated, the old access token revoked). */
  issued?: FakeLogin;
}

/** Options of {@link createFakeTokenEndpoint}. */
export interface FakeTokenEndpointOptions {
  /** Token path (default `/v1/oauth/token`). */
  path?: string;
  /** Authorize path (default `/oauth/authorize`). */
  authorizePath?: string;
  /** Accepted client id (default Claude Code's). */
  clientId?: string;
  /** Encodings accepted; the others get 400 "Invalid request format" (default `['json']`). */
  encodings?: readonly TokenEncoding[];
  /** Access-token lifetime in seconds (default 28800). */
  expiresIn?: number;
  /** Answer refreshes without `refresh_token` (the old one then stays valid). */
  omitRefreshToken?: boolean;
  /** Answer `invalid_scope` whenever a refresh request carries `scope`. */
  rejectScope?: boolean;
  /** Answer "Invalid request format" when a refresh request lacks `scope`. */
  requireScope?: boolean;
  /** Share a ledger with a fake Anthropic; default a new one (exposed as `ledger`). */
  ledger?: AccessTokenLedger;
  /** Clock for issued expiries (default Date.now). */
  now?: () => number;
  /** Awaited after the token logic ran and before the answer is written (causal/crash tests). */
  beforeAnswer?: (info: TokenAnswerInfo) => void | Promise<void>;
  /** A WAF in front of the endpoint: return a behaviour to apply to this call (e.g. by User-Agent). */
  waf?: (call: RecordedRequest) => FakeTokenBehaviour | undefined;
}

/** Settings that can be changed while the fake runs. */
export type FakeTokenEndpointSettings = Pick<
  FakeTokenEndpointOptions,
  'encodings' | 'expiresIn' | 'omitRefreshToken' | 'rejectScope' | 'requireScope'
> & {
  /** Set, or clear with undefined. */
  beforeAnswer?: FakeTokenEndpointOptions['beforeAnswer'] | undefined;
  /** Set, or clear with undefined. */
  waf?: FakeTokenEndpointOptions['waf'] | undefined;
};

interface Answer {
  status: number;
  body: Record<string, unknown>;
  grant?: FakeLogin;
}

/** A recorded authorization (one approved `GET /oauth/authorize`). */
export interface FakeAuthorization {
  code: string;
  state: string;
  codeChallenge: string;
  redirectUri: string;
  clientId: string;
  scope: string;
  /** What the user pastes back into a CLI in the manual-redirect flow. */
  paste: string;
  used: boolean;
}

/** A running fake OAuth token endpoint (and authorize endpoint). */
export interface FakeTokenEndpoint {
  /** Base URL, e.g. `http://127.0.0.1:41235`. */
  readonly url: string;
  /** Full token URL (`url + path`). */
  readonly tokenUrl: string;
  /** Full authorize URL (`url + authorizePath`). */
  readonly authorizeUrl: string;
  /** Access tokens issued here; give it to createFakeAnthropic so rotation revokes them there. */
  readonly ledger: AccessTokenLedger;
  /** Every token-path request (any outcome), in order. */
  readonly calls: readonly RecordedRequest[];
  /** Every request on any path. */
  readonly requests: readonly RecordedRequest[];
  /** Successful refresh-token rotations. */
  readonly rotations: number;
  /** Approved authorizations. */
  readonly authorizations: readonly FakeAuthorization[];
  /** Seeds a login lineage (as if the user signed in) and returns its tokens. */
  issueLogin(options?: { expiresIn?: number; scopes?: readonly string[]; withRefreshToken?: boolean }): FakeLogin;
  /** Makes a refresh token unusable (`invalid_grant`), as a revocation or another owner's rotation would. */
  revokeRefreshToken(refreshToken: string): void;
  /** Whether a refresh token would currently be accepted. */
  isRefreshTokenValid(refreshToken: string): boolean;
  /** Approves an authorize URL in-process (as a signed-in user would) and returns the code and state. */
  approve(authorizeUrl: string): FakeAuthorization;
  /** Forces a behaviour on the next token request(s). */
  force(behaviour: FakeTokenBehaviour, options?: { times?: number }): void;
  configure(settings: FakeTokenEndpointSettings): void;
  /** Resolves once `count` token-path calls arrived (default timeout 5000 ms). */
  waitForCalls(count: number, timeoutMs?: number): Promise<void>;
  /** Resolves once `count` successful rotations happened (default timeout 5000 ms). */
  waitForRotations(count: number, timeoutMs?: number): Promise<void>;
  /** Clears recorded calls, forced behaviours and the rotation count (tokens stay). */
  reset(): void;
  close(): Promise<void>;
}

/** The HTML Cloudflare serves for a managed challenge (abridged). */
export const CLOUDFLARE_CHALLENGE_HTML =
  '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>' +
  '<meta http-equiv="Content-Type" content="text/html; charset=UTF-8"></head>' +
  '<body><div class="main-wrapper" role="main"><div class="main-content">' +
  '<noscript>Enable JavaScript and cookies to continue</noscript></div></div>' +
  '<script>window._cf_chl_opt={cType: "managed"};</script></body></html>';

interface Lineage {
  accessToken: string;
  refreshToken: string | undefined;
  scopes: string[];
}

function token(prefix: string): string {
  return `${prefix}${randomBytes(32).toString('base64url')}`;
}

/** base64url(sha256(verifier)), the S256 PKCE challenge. */
export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

/** A new PKCE verifier/challenge pair (for tests that play the client). */
export function createPkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: pkceChallenge(verifier) };
}

function parseBody(recorded: RecordedRequest): { encoding: TokenEncoding | undefined; fields: Record<string, string> } {
  const contentType = (headerValue(recorded, 'content-type') ?? '').toLowerCase();
  const text = recorded.body.toString('utf8');
  if (contentType.startsWith('application/json')) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { encoding: 'json', fields: {} };
      const fields: Record<string, string> = {};
      for (const [key, value] of Object.entries(parsed)) {
        if (typeof value === 'string') fields[key] = value;
        else if (typeof value === 'number') fields[key] = String(value);
      }
      return { encoding: 'json', fields };
    } catch {
      return { encoding: undefined, fields: {} };
    }
  }
  if (contentType.startsWith('application/x-www-form-urlencoded')) {
    return { encoding: 'form', fields: Object.fromEntries(new URLSearchParams(text)) };
  }
  return { encoding: undefined, fields: {} };
}

/**
 * Starts a loopback fake of Anthropic's OAuth token endpoint: single-use rotating refresh tokens
 * (reuse → 400 invalid_grant), access-token revocation on rotation (through the shared ledger),
 * PKCE authorization-code exchange, and forced WAF/transient failures that spend nothing.
 */
export async function createFakeTokenEndpoint(options: FakeTokenEndpointOptions = {}): Promise<FakeTokenEndpoint> {
  const tokenPath = options.path ?? '/v1/oauth/token';
  const authorizePath = options.authorizePath ?? '/oauth/authorize';
  const clientId = options.clientId ?? CLAUDE_CODE_CLIENT_ID;
  const now = options.now ?? Date.now;
  const ledger = options.ledger ?? createAccessTokenLedger(now);
  const settings: Required<Omit<FakeTokenEndpointSettings, 'beforeAnswer' | 'waf'>> &
    Pick<FakeTokenEndpointSettings, 'beforeAnswer' | 'waf'> = {
    encodings: options.encodings ?? ['json'],
    expiresIn: options.expiresIn ?? 28_800,
    omitRefreshToken: options.omitRefreshToken ?? false,
    rejectScope: options.rejectScope ?? false,
    requireScope: options.requireScope ?? false,
  };
  if (options.beforeAnswer) settings.beforeAnswer = options.beforeAnswer;
  if (options.waf) settings.waf = options.waf;
  const waiters = new Set<() => void>();
  const waitFor = (what: string, done: () => boolean, timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (done()) {
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`fake token endpoint: ${what} not reached in ${timeoutMs} ms (calls ${calls.length}, rotations ${rotations})`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  /** Live refresh tokens → their lineage. Spent or revoked tokens are removed. */
  const liveRefreshTokens = new Map<string, Lineage>();
  const authorizations: FakeAuthorization[] = [];
  let requests: RecordedRequest[] = [];
  let calls: RecordedRequest[] = [];
  let forced: Array<{ behaviour: FakeTokenBehaviour; remaining: number }> = [];
  let rotations = 0;
  let baseUrl = '';

  const issue = (scopes: readonly string[], expiresIn: number, withRefreshToken: boolean): FakeLogin => {
    const accessToken = token('sk-ant-oat01-');
    const expiresAt = now() + expiresIn * 1000;
    ledger.allow(accessToken, expiresAt);
    const login: FakeLogin = { accessToken, expiresAt, scopes: [...scopes] };
    if (withRefreshToken) {
      const refreshToken = token('sk-ant-ort01-');
      liveRefreshTokens.set(refreshToken, { accessToken, refreshToken, scopes: [...scopes] });
      login.refreshToken = refreshToken;
    }
    return login;
  };

  const tokenAnswer = (login: FakeLogin, expiresIn: number, includeRefresh: boolean) => {
    const body: Record<string, unknown> = {
      token_type: 'Bearer',
      access_token: login.accessToken,
      expires_in: expiresIn,
    };
    if (includeRefresh && login.refreshToken !== undefined) body.refresh_token = login.refreshToken;
    body.scope = login.scopes.join(' ');
    body.account = { uuid: '00000000-0000-4000-8000-00000000acc7', email_address: 'fake-user@example.invalid' };
    body.organization = { uuid: '00000000-0000-4000-8000-0000000000f9', name: 'Fake Organization' };
    return body;
  };

  const oauthError = (status: number, error: string, description: string): Answer => ({
    status,
    body: { error, error_description: description },
  });

  const refresh = (fields: Record<string, string>): Answer => {
    if (fields.refresh_token === undefined || fields.client_id === undefined) {
      return oauthError(400, 'invalid_request', 'Invalid request format');
    }
    if (settings.rejectScope && fields.scope !== undefined) {
      return oauthError(400, 'invalid_scope', 'The requested scope is invalid, unknown, or malformed.');
    }
    if (settings.requireScope && fields.scope === undefined) {
      return oauthError(400, 'invalid_request', 'Invalid request format');
    }
    if (fields.client_id !== clientId) {
      return oauthError(400, 'invalid_client', 'Client authentication failed');
    }
    const lineage = liveRefreshTokens.get(fields.refresh_token);
    if (!lineage) return oauthError(400, 'invalid_grant', 'Refresh token not found or invalid');
    // The previous access token dies with the rotation (reference §2.3).
    ledger.revoke(lineage.accessToken);
    const scopes = fields.scope !== undefined ? fields.scope.split(' ').filter(Boolean) : lineage.scopes;
    const accessToken = token('sk-ant-oat01-');
    const expiresAt = now() + settings.expiresIn * 1000;
    ledger.allow(accessToken, expiresAt);
    lineage.accessToken = accessToken;
    lineage.scopes = scopes;
    if (!settings.omitRefreshToken) {
      liveRefreshTokens.delete(fields.refresh_token);
      const refreshToken = token('sk-ant-ort01-');
      lineage.refreshToken = refreshToken;
      liveRefreshTokens.set(refreshToken, lineage);
    }
    rotations += 1;
    const login: FakeLogin = { accessToken, expiresAt, scopes };
    if (lineage.refreshToken !== undefined) login.refreshToken = lineage.refreshToken;
    return { status: 200, body: tokenAnswer(login, settings.expiresIn, !settings.omitRefreshToken), grant: login };
  };

  const exchange = (fields: Record<string, string>): Answer => {
    const { code, redirect_uri: redirectUri, client_id: requestClientId, code_verifier: verifier, state } = fields;
    if (!code || !redirectUri || !requestClientId || !verifier || !state) {
      return oauthError(400, 'invalid_request', 'Invalid request format');
    }
    if (requestClientId !== clientId) {
      return oauthError(400, 'invalid_client', 'Client authentication failed');
    }
    const authorization = authorizations.find((candidate) => candidate.code === code);
    if (!authorization || authorization.used) {
      return oauthError(400, 'invalid_grant', 'Invalid authorization code');
    }
    if (authorization.redirectUri !== redirectUri) {
      return oauthError(400, 'invalid_grant', "Invalid 'redirect_uri' in request");
    }
    if (authorization.state !== state) return oauthError(400, 'invalid_grant', 'Invalid state');
    if (pkceChallenge(verifier) !== authorization.codeChallenge) {
      return oauthError(400, 'invalid_grant', 'Invalid code verifier');
    }
    authorization.used = true;
    const scopes = authorization.scope.split(' ').filter(Boolean);
    // An inference-only login (setup-token style) gets no refresh token; `expires_in` may ask for a long life.
    const inferenceOnly = scopes.length > 0 && scopes.every((scope) => scope.endsWith('inference') || scope === 'user:file_upload');
    const expiresIn = fields.expires_in !== undefined ? Number(fields.expires_in) : settings.expiresIn;
    const lifetime = Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : settings.expiresIn;
    const login = issue(scopes, lifetime, !inferenceOnly);
    return { status: 200, body: tokenAnswer(login, lifetime, true), grant: login };
  };

  const authorize = (params: URLSearchParams): FakeAuthorization | string => {
    const required = ['client_id', 'response_type', 'redirect_uri', 'scope', 'code_challenge', 'state'] as const;
    for (const name of required) {
      if (!params.get(name)) return `missing parameter ${name}`;
    }
    if (params.get('client_id') !== clientId) return 'unknown client_id';
    if (params.get('response_type') !== 'code') return 'response_type must be code';
    const method = params.get('code_challenge_method') ?? 'S256';
    if (method !== 'S256') return 'code_challenge_method must be S256';
    const code = randomBytes(24).toString('base64url');
    const state = params.get('state')!;
    const authorization: FakeAuthorization = {
      code,
      state,
      codeChallenge: params.get('code_challenge')!,
      redirectUri: params.get('redirect_uri')!,
      clientId: params.get('client_id')!,
      scope: params.get('scope')!,
      paste: `${code}#${state}`,
      used: false,
    };
    authorizations.push(authorization);
    return authorization;
  };

  const handleAuthorize = (request: IncomingMessage, response: ServerResponse, recorded: RecordedRequest) => {
    const params = new URL(recorded.url, 'http://fake.invalid').searchParams;
    const result = authorize(params);
    if (typeof result === 'string') {
      recorded.status = 400;
      response.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
      response.end(`Authorization failed: ${result}`);
      return;
    }
    const redirect = new URL(result.redirectUri);
    const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(redirect.hostname);
    if (loopback) {
      redirect.searchParams.set('code', result.code);
      redirect.searchParams.set('state', result.state);
      recorded.status = 302;
      response.writeHead(302, { location: redirect.toString() });
      response.end();
      return;
    }
    // Manual redirect: the page shows the value to paste back into the CLI.
    const wantsJson = (request.headers.accept ?? '').includes('application/json');
    recorded.status = 200;
    if (wantsJson) {
      sendJson(response, 200, { code: result.code, state: result.state, paste: result.paste });
      return;
    }
    response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    response.end(result.paste);
  };

  const handle = async (request: IncomingMessage, response: ServerResponse, recorded: RecordedRequest) => {
    if (recorded.method === 'GET' && recorded.path === authorizePath) return handleAuthorize(request, response, recorded);
    if (recorded.path !== tokenPath) {
      recorded.status = 404;
      return sendJson(response, 404, { error: 'not_found', error_description: `Not found: ${recorded.path}` });
    }
    calls.push(recorded);
    for (const wake of [...waiters]) wake();
    if (recorded.method !== 'POST') {
      recorded.status = 405;
      return sendJson(response, 405, { error: 'invalid_request', error_description: 'Method not allowed' });
    }
    const entry = forced[0];
    let behaviour: FakeTokenBehaviour | undefined = settings.waf?.(recorded);
    if (behaviour === undefined && entry) {
      behaviour = entry.behaviour;
      entry.remaining -= 1;
      if (entry.remaining <= 0) forced = forced.slice(1);
    }
    switch (behaviour?.kind) {
      case 'rate-limit':
        recorded.status = 429;
        return sendJson(
          response,
          429,
          { type: 'error', error: { type: 'rate_limit_error', message: 'Rate limited. Please try again later.' } },
          { 'retry-after': String(behaviour.retryAfterSeconds ?? 30) },
        );
      case 'server-error': {
        const status = behaviour.status ?? 503;
        recorded.status = status;
        return sendJson(response, status, { type: 'error', error: { type: 'api_error', message: 'Internal server error' } });
      }
      case 'cloudflare-challenge':
        recorded.status = 403;
        response.writeHead(403, {
          'content-type': 'text/html; charset=UTF-8',
          'cf-mitigated': 'challenge',
          server: 'cloudflare',
        });
        response.end(CLOUDFLARE_CHALLENGE_HTML);
        return;
      case 'invalid-request-format':
        recorded.status = 400;
        return sendJson(response, 400, oauthError(400, 'invalid_request', 'Invalid request format').body);
      case 'raw':
        recorded.status = behaviour.status;
        response.writeHead(behaviour.status, {
          'content-type': behaviour.contentType ?? 'text/plain; charset=utf-8',
          ...behaviour.headers,
        });
        response.end(behaviour.body);
        return;
      case 'hang':
        return;
      case 'destroy':
        request.socket.destroy();
        return;
      case 'slow':
        await delay(behaviour.ms);
        break;
      case 'hold':
        await behaviour.until;
        break;
      default:
        break;
    }
    const { encoding, fields } = parseBody(recorded);
    const answer: Answer =
      encoding === undefined || !settings.encodings.includes(encoding)
        ? oauthError(400, 'invalid_request', 'Invalid request format')
        : fields.grant_type === 'refresh_token'
          ? refresh(fields)
          : fields.grant_type === 'authorization_code'
            ? exchange(fields)
            : oauthError(400, 'unsupported_grant_type', 'Invalid request format');
    // The token logic has run (a refresh token may be spent): a test may now act before the caller
    // sees the answer, e.g. SIGKILL the caller to open the "answered but not committed" window.
    const info: TokenAnswerInfo = { call: recorded, status: answer.status };
    if (fields.grant_type !== undefined) info.grantType = fields.grant_type;
    if (answer.grant !== undefined) info.issued = answer.grant;
    for (const wake of [...waiters]) wake();
    await settings.beforeAnswer?.(info);
    recorded.status = answer.status;
    sendJson(response, answer.status, answer.body);
    for (const wake of [...waiters]) wake();
  };

  const server: LoopbackServer = await startLoopbackServer(handle, (partial) => {
    const recorded: RecordedRequest = { ...partial, index: requests.length };
    requests.push(recorded);
    return recorded;
  });
  baseUrl = server.url;

  return {
    url: baseUrl,
    tokenUrl: `${baseUrl}${tokenPath}`,
    authorizeUrl: `${baseUrl}${authorizePath}`,
    ledger,
    get calls() {
      return calls;
    },
    get requests() {
      return requests;
    },
    get rotations() {
      return rotations;
    },
    authorizations,
    issueLogin(loginOptions = {}) {
      return issue(
        loginOptions.scopes ?? CLAUDE_CODE_SCOPES,
        loginOptions.expiresIn ?? settings.expiresIn,
        loginOptions.withRefreshToken ?? true,
      );
    },
    revokeRefreshToken(refreshToken) {
      liveRefreshTokens.delete(refreshToken);
    },
    isRefreshTokenValid(refreshToken) {
      return liveRefreshTokens.has(refreshToken);
    },
    approve(authorizeUrl) {
      const result = authorize(new URL(authorizeUrl).searchParams);
      if (typeof result === 'string') throw new Error(`fake authorize refused: ${result}`);
      return result;
    },
    force(behaviour, forceOptions = {}) {
      forced.push({ behaviour, remaining: forceOptions.times ?? 1 });
    },
    configure(next) {
      for (const [key, value] of Object.entries(next)) {
        if (value !== undefined || key === 'beforeAnswer' || key === 'waf') (settings as Record<string, unknown>)[key] = value;
      }
    },
    waitForCalls(count, timeoutMs = 5000) {
      return waitFor(`${count} calls`, () => calls.length >= count, timeoutMs);
    },
    waitForRotations(count, timeoutMs = 5000) {
      return waitFor(`${count} rotations`, () => rotations >= count, timeoutMs);
    },
    reset() {
      requests = [];
      calls = [];
      forced = [];
      rotations = 0;
    },
    close: () => server.close(),
  };
}
