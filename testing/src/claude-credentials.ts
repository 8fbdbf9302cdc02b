import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The tokens of a login, as the fake token endpoint issues them. */
export interface ClaudeLoginTokens {
  accessToken: string;
  refreshToken?: string;
  /** Epoch milliseconds. */
  expiresAt: number;
  scopes?: readonly string[];
}

/** Variations of the credentials file, for parse-failure and compatibility tests. */
export interface ClaudeCredentialsOptions {
  /** `subscriptionType` (default `max`; `null` allowed as Claude Code writes it). */
  subscriptionType?: string | null;
  /** Write `expiresAt` in seconds instead of milliseconds (older/foreign writers). */
  expiresAtUnit?: 'ms' | 's';
  /** Drop these fields from `claudeAiOauth`. */
  omit?: ReadonlyArray<'accessToken' | 'refreshToken' | 'expiresAt' | 'scopes' | 'subscriptionType'>;
  /** Extra fields merged into `claudeAiOauth` (e.g. `rateLimitTier`, `refreshTokenExpiresAt`). */
  extra?: Record<string, unknown>;
  /** Add a sibling `mcpOAuth` entry, as real files often have. */
  withMcpOAuth?: boolean;
  /** Write only `mcpOAuth` (not a login). */
  mcpOnly?: boolean;
  /** File mode (default 0o600). */
  mode?: number;
}

const DEFAULT_SCOPES = ['user:inference', 'user:profile', 'user:sessions:claude_code'];

/** The JSON text Claude Code stores in `.credentials.json` or its keychain item for a login. */
export function claudeCredentialsJson(login: ClaudeLoginTokens, options: ClaudeCredentialsOptions = {}): string {
  const mcp = { 'fake-server|0000': { serverName: 'fake-server', accessToken: 'mcp-fake-token', expiresAt: 0 } };
  if (options.mcpOnly) return JSON.stringify({ mcpOAuth: mcp });
  const oauth: Record<string, unknown> = {
    accessToken: login.accessToken,
    refreshToken: login.refreshToken,
    expiresAt: options.expiresAtUnit === 's' ? Math.floor(login.expiresAt / 1000) : login.expiresAt,
    scopes: [...(login.scopes ?? DEFAULT_SCOPES)],
    subscriptionType: options.subscriptionType === undefined ? 'max' : options.subscriptionType,
    ...options.extra,
  };
  if (login.refreshToken === undefined) delete oauth.refreshToken;
  for (const field of options.omit ?? []) delete oauth[field];
  const blob: Record<string, unknown> = { claudeAiOauth: oauth };
  if (options.withMcpOAuth) blob.mcpOAuth = mcp;
  return JSON.stringify(blob);
}

/**
 * Writes `<dir>/.credentials.json` (mode 0600, creating `dir`) as Claude Code does on Linux, and
 * returns its path. Point `CLAUDE_CONFIG_DIR` (or `HOME` with dir = `$HOME/.claude`) at it.
 */
export async function writeClaudeCredentials(
  dir: string,
  login: ClaudeLoginTokens,
  options: ClaudeCredentialsOptions = {},
): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, '.credentials.json');
  const mode = options.mode ?? 0o600;
  await writeFile(path, claudeCredentialsJson(login, options), { mode });
  await chmod(path, mode);
  return path;
}
