#!/usr/bin/env node
// `pnpm bench`: every scenario of issue 9 side by side on loopback, several interleaved rounds,
// medians and spreads, ratios against nginx / @fastify/http-proxy / node measured in the same run;
// writes RESULTS.md and results.json. `--smoke` (CI) runs every scenario briefly, checks
// correctness only (no errors, auth injected, one token call per stampede) and writes nothing.
// Options: --rounds N, --seconds S, --warmup S (overhead warm-up, default 3), --only a,b (overhead,streaming,scale,propagation,stampede,startup),
// --no-build, --out DIR, --profile DIR (gateway and supervisor processes write .cpuprofile files there).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const { values: args } = parseArgs({
  allowPositionals: true, // pnpm passes a literal '--' through
  options: {
    smoke: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    warmup: { type: 'string' },
    only: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    out: { type: 'string' },
    profile: { type: 'string' },
  },
});
const smoke = args.smoke;
if (args.profile) process.env.OPENSHELL_BENCH_PROFILE = args.profile;
const log = (line) => process.stderr.write(`${line}\n`);

// 2,000 streams need a few thousand descriptors per process: raise the soft limit when it is low.
if (process.env.OPENSHELL_BENCH_ULIMIT !== '1') {
  const soft = Number(spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim());
  if (Number.isFinite(soft) && soft < 16_384) {
    const r = spawnSync('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 16384 2>/dev/null; exec "$0" "$@"', process.execPath, ...process.argv.slice(1)], {
      stdio: 'inherit',
      env: { ...process.env, OPENSHELL_BENCH_ULIMIT: '1' },
    });
    process.exit(r.status ?? 1);
  }
}

function ensureTools() {
  const missing = ['nginx', 'wrk'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
  if (missing.length === 0) return;
  if (process.getuid?.() === 0) {
    log(`installing ${missing.join(', ')} (Debian packages)`);
    spawnSync('sh', ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${missing.join(' ')}`], { stdio: 'inherit' });
  }
  const still = missing.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
  if (still.length > 0) throw new Error(`${still.join(' and ')} missing: install the Debian packages (apt-get install ${still.join(' ')}) and run again`);
}

function ensureBuilt() {
  const needed = ['core', 'router', 'server', 'supervisor', 'cli'].map((p) => join(root, 'packages', p, 'dist', 'index.js'));
  needed.push(join(root, 'testing', 'dist', 'index.js'));
  if (args['no-build'] && needed.every((f) => existsSync(f))) return;
  log('building the workspace (turbo; cached when up to date)');
  const r = spawnSync('pnpm', ['exec', 'turbo', 'run', 'build', '--output-logs=errors-only'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' } });
  if (r.status !== 0) {
    if (needed.every((f) => existsSync(f))) log('build failed; measuring the existing dist/ output');
    else throw new Error('the workspace does not build: run `pnpm build` and fix it first');
  }
}

function machine() {
  const sh = (cmd) => spawnSync('sh', ['-c', cmd], { encoding: 'utf8' }).stdout.trim();
  return {
    date: new Date().toISOString(),
    nproc: sh('nproc'),
    cpu: sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").trim(),
    memory: sh('free -h | sed -n 2p'),
    kernel: sh('uname -sr'),
    node: process.version,
    nginx: sh('nginx -v 2>&1'),
    wrk: sh('wrk --version 2>&1 | head -1').split(' Copyright')[0],
    loadAverage: sh('cat /proc/loadavg'),
  };
}

const ALL = ['overhead', 'streaming', 'scale', 'propagation', 'stampede', 'startup'];
const only = args.only ? args.only.split(',') : ALL;
const rounds = Number(args.rounds ?? (smoke ? 1 : 5));
const seconds = Number(args.seconds ?? (smoke ? 1 : 5));
/** Seconds of unrecorded load each overhead target gets first, so JIT-compiled proxies are measured warm (nginx needs none). */
const warmup = Number(args.warmup ?? (smoke ? 0 : 3));

ensureTools();
ensureBuilt();

// Imported after the build: the scenarios load the packages' dist/ output.
const { runOverhead } = await import('./scenarios/overhead.mjs');
const { runStreaming } = await import('./scenarios/streaming.mjs');
const { runScale } = await import('./scenarios/scale.mjs');
const { runPropagation } = await import('./scenarios/propagation.mjs');
const { runStampede } = await import('./scenarios/stampede.mjs');
const { runStartup } = await import('./scenarios/startup.mjs');
const { checkResults, renderMarkdown } = await import('./lib/report.mjs');

const dir = mkdtempSync(join(tmpdir(), 'openshell-bench-'));
const before = machine();
log(`openshell bench${smoke ? ' (smoke)' : ''}: ${rounds} round(s), ${seconds} s per load run, work dir ${dir}`);
const results = { smoke, rounds, seconds, warmup, machine: before, scenarios: {}, failures: [] };
const scenarios = {
  overhead: () => runOverhead({ dir: join(dir, 'overhead'), rounds, seconds, warmup, log }),
  streaming: () => runStreaming({ dir: join(dir, 'streaming'), rounds, streams: smoke ? 1 : 3, events: 500, log }),
  scale: () => runScale({ dir: join(dir, 'scale'), streams: 2_000, events: smoke ? 10 : 20, intervalMs: smoke ? 200 : 250, log }),
  propagation: () => runPropagation({ dir: join(dir, 'propagation'), subscribers: 100, rotations: smoke ? 2 : 10, log }),
  stampede: () => runStampede({ dir: join(dir, 'stampede'), reports: 1_000, rounds: smoke ? 1 : 3, log }),
  startup: () => runStartup({ dir, runs: smoke ? 3 : 20, gatewayRuns: smoke ? 1 : 5, log }),
};
for (const name of only) {
  if (!scenarios[name]) throw new Error(`unknown scenario '${name}' (known: ${ALL.join(', ')})`);
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(dir, name), { recursive: true });
  log(`scenario ${name}`);
  const t0 = performance.now();
  try {
    results.scenarios[name] = await scenarios[name]();
  } catch (err) {
    results.failures.push(`${name}: ${err instanceof Error ? err.stack : String(err)}`);
    log(`scenario ${name} FAILED: ${err instanceof Error ? err.stack : String(err)}`);
  }
  log(`scenario ${name} took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
results.machine.loadAverageAfter = machine().loadAverage;
results.failures.push(...checkResults(results));

if (!smoke) {
  const out = args.out ?? here;
  mkdirSync(out, { recursive: true });
  // The hand-written findings (bench/analysis.md) close the report.
  if (existsSync(join(here, 'analysis.md'))) results.analysis = readFileSync(join(here, 'analysis.md'), 'utf8');
  writeFileSync(join(out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(out, 'RESULTS.md'), renderMarkdown(results));
  log(`wrote ${join(out, 'RESULTS.md')} and results.json`);
}
rmSync(dir, { recursive: true, force: true });
if (results.failures.length > 0) {
  log(`\n${results.failures.length} problem(s):\n- ${results.failures.join('\n- ')}`);
  process.exit(1);
}
log('bench: every scenario ran without errors');
