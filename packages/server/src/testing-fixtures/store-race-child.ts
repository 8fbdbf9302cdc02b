/**
 * A second PROCESS racing the test process on one SQLite file (test-only).
 * Run: node --import tsx --conditions=source store-race-child.ts, with OPENSHELL_TEST_RACE = JSON
 * `{ file, kek (base64), provider, key, attempts }`. Prints `ready`, waits for `go` on stdin, runs
 * `attempts` CAS updates and lease attempts at once, prints one JSON line with the outcomes.
 */
import { createInterface } from 'node:readline';
import { StoreError } from '../store/errors.js';
import { openSqliteStore } from '../store/sqlite-store.js';

interface RaceConfig {
  readonly file: string;
  readonly kek: string;
  readonly provider: string;
  readonly key: string;
  readonly attempts: number;
}

const config = JSON.parse(process.env.OPENSHELL_TEST_RACE ?? '{}') as RaceConfig;
const store = await openSqliteStore({ file: config.file, kek: Buffer.from(config.kek, 'base64') });
process.stdout.write('ready\n');
const lines = createInterface({ input: process.stdin });
for await (const line of lines) if (line.trim() === 'go') break;

const outcome = (r: PromiseSettledResult<unknown>, ok: (v: unknown) => string) =>
  r.status === 'fulfilled' ? ok(r.value) : StoreError.is(r.reason) ? r.reason.code : `unexpected: ${String(r.reason)}`;

const n = Math.min(Math.max(1, config.attempts), 50);
const [updates, leases] = await Promise.all([
  Promise.allSettled(
    Array.from({ length: n }, (_, i) => store.updateProvider(config.provider, { expectedResourceVersion: 1, config: { WRITER: `child-${i}` } })),
  ),
  Promise.allSettled(Array.from({ length: n }, (_, i) => store.beginRefresh(config.provider, config.key, `child-${i}`, 60_000))),
]);
process.stdout.write(
  `${JSON.stringify({
    updates: updates.map((r) => outcome(r, () => 'won')),
    leases: leases.map((r) => outcome(r, (v) => (v as { outcome: string }).outcome)),
  })}\n`,
);
await store.close();
lines.close();
