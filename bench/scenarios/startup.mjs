// Scenario 6: start-up. `openshell --version` / `--help` against `node -e 0` (same node, runs
// interleaved), and `openshell gateway start` (foreground, SQLite) until /readyz answers 200.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../lib/net.mjs';
import { median, spread } from '../lib/stats.mjs';

const CLI = fileURLToPath(new URL('../../packages/cli/bin/openshell.js', import.meta.url));

function timeRun(args, env) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${String(r.stderr).slice(0, 500)}`);
  return { ms, stdout: String(r.stdout) };
}

function readyz(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/readyz', agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.setTimeout(1_000, () => req.destroy());
  });
}

async function gatewayReady(dataDir, env) {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, [CLI, 'gateway', 'start', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir], { stdio: ['ignore', 'ignore', 'pipe'], env });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  let ms = Number.NaN;
  try {
    for (let i = 0; i < 6_000 && child.exitCode === null; i++) {
      if (await readyz(port)) {
        ms = performance.now() - t0;
        break;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    if (child.exitCode === null) child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }
  if (Number.isNaN(ms)) throw new Error(`openshell gateway start never became ready: ${stderr.slice(-800)}`);
  return ms;
}

export async function runStartup({ dir, runs, gatewayRuns, log }) {
  const home = mkdtempSync(join(dir, 'startup-'));
  const env = { ...process.env, XDG_CONFIG_HOME: join(home, 'config'), XDG_DATA_HOME: join(home, 'data'), NO_COLOR: '1' };
  const times = { node: [], version: [], help: [] };
  const version = timeRun([CLI, '--version'], env).stdout.trim();
  if (!/^\d+\.\d+\.\d+/.test(version)) throw new Error(`openshell --version printed '${version}'`);
  if (!timeRun([CLI, '--help'], env).stdout.includes('gateway')) throw new Error('openshell --help does not list the gateway command');
  for (let i = 0; i < runs; i++) {
    times.node.push(timeRun(['-e', '0'], env).ms);
    times.version.push(timeRun([CLI, '--version'], env).ms);
    times.help.push(timeRun([CLI, '--help'], env).ms);
  }
  const ratio = (k) => times[k].map((ms, i) => ms / times.node[i]);
  const s = (v) => ({ median: median(v), spread: spread(v), values: v });
  const fresh = [];
  const restart = [];
  for (let i = 0; i < gatewayRuns; i++) {
    const dataDir = join(home, `gw-${i}`);
    fresh.push(await gatewayReady(dataDir, env));
    restart.push(await gatewayReady(dataDir, env));
    rmSync(dataDir, { recursive: true, force: true });
  }
  const result = {
    runs,
    nodeMs: s(times.node),
    versionMs: s(times.version),
    helpMs: s(times.help),
    versionRatio: s(ratio('version')),
    helpRatio: s(ratio('help')),
    gatewayFreshReadyMs: s(fresh),
    gatewayRestartReadyMs: s(restart),
  };
  log(
    `  startup: node -e 0 ${result.nodeMs.median.toFixed(1)} ms, --version ${result.versionMs.median.toFixed(1)} ms (×${result.versionRatio.median.toFixed(2)}), --help ${result.helpMs.median.toFixed(1)} ms (×${result.helpRatio.median.toFixed(2)}), gateway ready fresh ${result.gatewayFreshReadyMs.median.toFixed(0)} ms / restart ${result.gatewayRestartReadyMs.median.toFixed(0)} ms`,
  );
  return result;
}
