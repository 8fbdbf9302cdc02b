/**
 * A minimal gateway process for the refresh engine's multi-process tests: opens the store (SQLite
 * file or Postgres schema) and a refresh engine, then does what `mode` says. Configuration comes in
 * the OPENSHELL_TEST_CHILD_CONFIG environment variable (JSON; test-only values). Results are JSON
 * lines on stdout; engine logs are JSON lines on stderr. `OPENSHELL_TEST_CRASH_AT` (see
 * refresh/crash-hook.ts) makes the engine SIGKILL this process at a step of the write path.
 *
 * Run: node --import tsx --conditions=source refresh-gateway-child.ts
 */
import type { ProviderProfile } from '@openshell/core';
import { pino } from 'pino';
import { createRefreshEngine } from '../../refresh/index.js';
import { openPostgresStore } from '../../store/postgres-store.js';
import { openSqliteStore } from '../../store/sqlite-store.js';
import type { Store } from '../../store/types.js';

export interface ChildConfig {
  readonly database: { readonly kind: 'sqlite'; readonly file: string } | { readonly kind: 'postgres'; readonly url: string; readonly schema: string };
  readonly kekHex: string;
  readonly profile: ProviderProfile;
  /** `rotate`: one rotateNow and exit. `start`: start (crash detection + one pass), report, exit. `serve`: run until SIGTERM. */
  readonly mode: 'rotate' | 'start' | 'serve';
  readonly provider: string;
  readonly leaseMs?: number;
  readonly maxSleepMs?: number;
  readonly tokenTimeoutMs?: number;
}

function emit(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

async function main(): Promise<void> {
  const raw = process.env.OPENSHELL_TEST_CHILD_CONFIG;
  if (raw === undefined) throw new Error('OPENSHELL_TEST_CHILD_CONFIG is not set');
  const config = JSON.parse(raw) as ChildConfig;
  const kek = Buffer.from(config.kekHex, 'hex');
  const store: Store =
    config.database.kind === 'sqlite'
      ? await openSqliteStore({ file: config.database.file, kek })
      : await openPostgresStore({ url: config.database.url, schema: config.database.schema, kek, poolSize: 4 });
  const logger = pino({ level: 'debug', base: { pid: process.pid } }, pino.destination(2));
  const engine = createRefreshEngine({
    store,
    catalogue: new Map([[config.profile.id, config.profile]]),
    logger,
    ...(config.leaseMs === undefined ? {} : { leaseMs: config.leaseMs }),
    ...(config.maxSleepMs === undefined ? {} : { maxSleepMs: config.maxSleepMs }),
    ...(config.tokenTimeoutMs === undefined ? {} : { tokenTimeoutMs: config.tokenTimeoutMs }),
  });

  if (config.mode === 'rotate') {
    const outcome = await engine.rotateNow(config.provider);
    emit({ event: 'outcome', result: outcome.result, status: outcome.status ?? null });
  } else if (config.mode === 'start') {
    await engine.start();
    await engine.tick();
    await engine.stop();
    emit({ event: 'status', statuses: await engine.status(), tokenRequests: /openshell_refresh_token_requests_total (\d+)/.exec(await engine.metrics())?.[1] });
  } else {
    await engine.start();
    emit({ event: 'ready', owner: engine.ownerId });
    await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
    await engine.stop();
    emit({ event: 'stopped', statuses: await engine.status() });
  }
  await store.close();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`child failed: ${error instanceof Error ? `${error.name} ${(error as { code?: string }).code ?? ''}` : 'unknown'}\n`);
    process.exit(1);
  },
);
