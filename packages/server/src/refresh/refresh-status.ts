import type { ProviderRecord, RefreshState, RefreshStatus } from '../store/types.js';

/** What the API and metrics show for one refreshed credential. Holds no secret. */
export interface CredentialRefreshStatus {
  readonly provider: string;
  readonly credentialKey: string;
  readonly strategy: string;
  readonly status: RefreshStatus;
  /** Expiry of the access token currently served (epoch ms), when known. */
  readonly expiresAt?: number;
  readonly lastRefreshAt?: number;
  readonly nextRefreshAt?: number;
  readonly consecutiveFailures: number;
  readonly lastError?: string;
  /** A refresh is in flight right now (on this or another replica). */
  readonly refreshing: boolean;
}

/** Joins a stored refresh state with its provider's expiry into the public status shape. */
export function toCredentialStatus(state: RefreshState, provider: Pick<ProviderRecord, 'credentialExpiresAt'> | undefined): CredentialRefreshStatus {
  const expiresAt = provider?.credentialExpiresAt[state.key];
  return {
    provider: state.provider,
    credentialKey: state.key,
    strategy: state.strategy,
    status: state.status,
    ...(expiresAt !== undefined && expiresAt > 0 ? { expiresAt } : {}),
    ...(state.lastRefreshAt !== undefined ? { lastRefreshAt: state.lastRefreshAt } : {}),
    ...(state.nextRefreshAt !== undefined && state.status !== 'reauth_required' ? { nextRefreshAt: state.nextRefreshAt } : {}),
    consecutiveFailures: state.consecutiveFailures,
    ...(state.lastError !== undefined && state.lastError !== '' ? { lastError: state.lastError } : {}),
    refreshing: state.inFlight !== undefined,
  };
}

/** Process-local counters of the engine (reset on restart, as Prometheus counters may be). */
export interface RefreshCounters {
  /** HTTP requests sent to token endpoints, drift retries included. */
  tokenRequests: number;
  /** Refresh outcomes by result (`refreshed`, `error`, `reauth_required`, `discarded`). */
  readonly outcomes: Map<string, number>;
}

const STATUSES: readonly RefreshStatus[] = ['configured', 'refreshed', 'error', 'reauth_required'];

function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/**
 * Prometheus text for the refresh engine. Labels are provider names, credential key names, statuses
 * and results only — never a token, a fingerprint or an error text.
 */
export function renderRefreshMetrics(statuses: readonly CredentialRefreshStatus[], counters?: RefreshCounters): string {
  const lines: string[] = [];
  const gauge = (name: string, help: string, values: Array<[string, number]>) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const [labels, value] of values) lines.push(`${name}{${labels}} ${value}`);
  };
  const id = (s: CredentialRefreshStatus) => `provider="${label(s.provider)}",key="${label(s.credentialKey)}"`;
  gauge(
    'openshell_refresh_status',
    'Refresh status per credential (1 for the current status).',
    statuses.flatMap((s) => STATUSES.map((st): [string, number] => [`${id(s)},status="${st}"`, s.status === st ? 1 : 0])),
  );
  gauge('openshell_refresh_consecutive_failures', 'Consecutive failed refreshes per credential.', statuses.map((s) => [id(s), s.consecutiveFailures]));
  gauge(
    'openshell_refresh_expires_at_seconds',
    'Expiry of the served access token (unix seconds).',
    statuses.filter((s) => s.expiresAt !== undefined).map((s) => [id(s), Math.floor((s.expiresAt ?? 0) / 1000)]),
  );
  gauge(
    'openshell_refresh_next_at_seconds',
    'Next scheduled refresh (unix seconds).',
    statuses.filter((s) => s.nextRefreshAt !== undefined).map((s) => [id(s), Math.floor((s.nextRefreshAt ?? 0) / 1000)]),
  );
  gauge(
    'openshell_refresh_last_at_seconds',
    'Last successful refresh (unix seconds).',
    statuses.filter((s) => s.lastRefreshAt !== undefined).map((s) => [id(s), Math.floor((s.lastRefreshAt ?? 0) / 1000)]),
  );
  if (counters !== undefined) {
    lines.push(
      '# HELP openshell_refresh_token_requests_total Requests sent to token endpoints by this process.',
      '# TYPE openshell_refresh_token_requests_total counter',
      `openshell_refresh_token_requests_total ${counters.tokenRequests}`,
      '# HELP openshell_refresh_outcomes_total Refresh outcomes of this process by result.',
      '# TYPE openshell_refresh_outcomes_total counter',
    );
    for (const [result, n] of [...counters.outcomes].sort(([a], [b]) => a.localeCompare(b))) {
      lines.push(`openshell_refresh_outcomes_total{result="${label(result)}"} ${n}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
