// A/B of the supervisor proxy: the built one (A) against a modified copy (B, OPENSHELL_BENCH_SUPERVISOR_B
// = path to its dist/index.js, see exp-copy.sh), same gateway and upstream, rounds interleaved.
// AB_LOG_A / AB_LOG_B set log levels, AB_EXECARGV_B node flags of B (e.g. "--max-semi-space-size=32"),
// AB_ENV_A / AB_ENV_B extra environment ("K=V K2=V2") of each.
// Prints req/s and CPU µs per request of each. Usage: node bench/tools/ab.mjs [rounds] [seconds] [connections]
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setupRoute, startGateway } from '../lib/gateway.mjs';
import { cpuMsOf, startService } from '../lib/proc.mjs';
import { median } from '../lib/stats.mjs';
import { startSupervisor } from '../lib/supervisor.mjs';
import { runWrk } from '../lib/wrk.mjs';

const [rounds = 4, seconds = 4, connections = 64] = process.argv.slice(2).map(Number);
const dir = mkdtempSync(join(tmpdir(), 'bench-ab-'));
const token = 'sk-ant-oat01-bench-ab';
const up = await startService('upstream', { expectedToken: token });
const gw = await startGateway({ dir });
const [sb] = await setupRoute(gw, { upstreamUrl: up.url, credential: token });
const extraEnv = (spec) => Object.fromEntries((spec ?? '').split(' ').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const variants = {
  A: await startSupervisor({ gatewayUrl: gw.url, token: sb, dir, sandbox: 'bench-0', logLevel: process.env.AB_LOG_A, env: { ...process.env, ...extraEnv(process.env.AB_ENV_A) } }),
  B: await startSupervisor({ gatewayUrl: gw.url, token: sb, dir, sandbox: 'bench-0', logLevel: process.env.AB_LOG_B,
    ...(process.env.AB_EXECARGV_B ? { execArgv: process.env.AB_EXECARGV_B.split(' ') } : {}), env: { ...process.env, ...extraEnv(process.env.AB_ENV_B), ...(process.env.OPENSHELL_BENCH_SUPERVISOR_B ? { OPENSHELL_BENCH_SUPERVISOR: process.env.OPENSHELL_BENCH_SUPERVISOR_B } : {}) } }),
};
const res = { A: { rps: [], cpu: [] }, B: { rps: [], cpu: [] } };
for (let r = 0; r < rounds; r++) {
  for (const name of r % 2 ? ['B', 'A'] : ['A', 'B']) {
    const s = variants[name];
    const c0 = cpuMsOf(s.pid);
    const w = await runWrk({ url: s.url, path: 'http://inference.local/v1/messages', connections, seconds, headers: { 'proxy-authorization': s.proxyAuthorization } });
    const cpu = ((cpuMsOf(s.pid) - c0) * 1000) / (w.rps * seconds);
    res[name].rps.push(w.rps);
    res[name].cpu.push(cpu);
    console.log(`round ${r + 1} ${name}: ${Math.round(w.rps)} req/s, p99 ${w.p99Ms} ms, ${cpu.toFixed(0)} µs/req, errors ${w.errors}`);
  }
}
for (const name of ['A', 'B']) console.log(`${name}: median ${Math.round(median(res[name].rps))} req/s, ${median(res[name].cpu).toFixed(0)} µs/req`);
console.log(`B/A req/s per round: ${res.B.rps.map((v, i) => (v / res.A.rps[i]).toFixed(2)).join(' ')}`);
console.log('upstream', await up.stats());
await variants.A.close();
await variants.B.close();
await gw.close();
await up.close();
