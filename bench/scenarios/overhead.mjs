// Scenario 1: overhead of each proxy on a Messages-shaped POST (≈2 KB in, 1 KB out), at 1 and 64
// connections, over plain http (wrk; absolute-URI requests to our proxy) and over TLS (our Node
// generator; CONNECT + TLS through our proxy, TLS terminated by nginx / fastify, TLS direct).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSandboxCa } from '@openshell/supervisor';
import { setupRoute, startGateway } from '../lib/gateway.mjs';
import { startNginx } from '../lib/nginx.mjs';
import { cpuMsOf, runTool, startService } from '../lib/proc.mjs';
import { median, spread } from '../lib/stats.mjs';
import { startSupervisor } from '../lib/supervisor.mjs';
import { REQUEST_BODY } from '../lib/upstream.mjs';
import { runWrk } from '../lib/wrk.mjs';

const CLIENT_HEADERS = {
  'content-type': 'application/json',
  'anthropic-version': '2023-06-01',
  'anthropic-beta': 'claude-code-20250219,interleaved-thinking-2025-05-14',
  'x-api-key': 'sandbox-placeholder',
};

/** First worker process of an nginx master (its CPU time is what serves requests). */
function nginxWorker(masterPid) {
  try {
    return Number(execFileSync('pgrep', ['-P', String(masterPid)], { encoding: 'utf8' }).trim().split('\n')[0]);
  } catch {
    return masterPid;
  }
}

export async function setupProxies({ dir, token }) {
  const ca = await createSandboxCa({ commonName: 'openshell bench test CA' });
  const leaf = await ca.leafFor('localhost');
  const tls = { cert: leaf.certChainPem, key: leaf.keyPem };
  const up = await startService('upstream', { expectedToken: token }, { logFile: `${dir}/upstream.log` });
  const upTls = await startService('upstream', { expectedToken: token, tls }, { logFile: `${dir}/upstream-tls.log` });
  const fastify = await startService('fastify', { upstreamUrl: up.url, token }, { logFile: `${dir}/fastify.log` });
  const fastifyTls = await startService('fastify', { upstreamUrl: up.url, token, tls }, { logFile: `${dir}/fastify-tls.log` });
  const floor = await startService('node-floor', { upstreamUrl: up.url, token }, { logFile: `${dir}/node-floor.log` });
  const leanAuth = `Basic ${Buffer.from(`sandbox:${randomBytes(16).toString('hex')}`).toString('base64')}`;
  const lean = await startService('lean', { upstreamPort: up.port, token, proxyAuthorization: leanAuth }, { logFile: `${dir}/lean.log` });
  const nginx = await startNginx({ upstreamPort: up.port, token, tls, workers: 1 });
  const gw = await startGateway({ dir });
  const [sandboxToken] = await setupRoute(gw, { upstreamUrl: up.url, credential: token });
  const sup = await startSupervisor({ gatewayUrl: gw.url, token: sandboxToken, dir });
  const worker = nginxWorker(nginx.pid);
  const directAuth = { authorization: `Bearer ${token}`, 'anthropic-beta': 'claude-code-20250219,interleaved-thinking-2025-05-14,oauth-2025-04-20' };
  const localhostTls = { servername: 'localhost', ca: ca.certPem };
  return {
    up,
    upTls,
    sup,
    plain: [
      { name: 'direct', pid: up.pid, wrk: { url: up.url, headers: directAuth } },
      { name: 'boundary', pid: sup.pid, wrk: { url: sup.url, path: 'http://inference.local/v1/messages', headers: { 'proxy-authorization': sup.proxyAuthorization } } },
      { name: 'nginx', pid: worker, wrk: { url: nginx.url } },
      { name: 'fastify', pid: fastify.pid, wrk: { url: fastify.url } },
      { name: 'node-floor', pid: floor.pid, wrk: { url: floor.url } },
      { name: 'lean-prototype', pid: lean.pid, wrk: { url: lean.url, path: 'http://inference.local/v1/messages', headers: { 'proxy-authorization': leanAuth } } },
    ],
    tls: [
      { name: 'direct', pid: upTls.pid, target: { host: '127.0.0.1', port: upTls.port, tls: localhostTls }, host: 'localhost', extra: directAuth },
      {
        name: 'boundary',
        pid: sup.pid,
        target: { host: 'inference.local', port: 443, tls: { servername: 'inference.local', ca: sup.caPem }, proxy: { host: '127.0.0.1', port: sup.port, authorization: sup.proxyAuthorization } },
        host: 'inference.local',
      },
      { name: 'nginx', pid: worker, target: { host: '127.0.0.1', port: nginx.tlsPort, tls: localhostTls }, host: 'localhost' },
      { name: 'fastify', pid: fastifyTls.pid, target: { host: '127.0.0.1', port: fastifyTls.port, tls: localhostTls }, host: 'localhost' },
    ],
    close: async () => {
      await sup.close();
      await gw.close();
      await Promise.all([fastify.close(), fastifyTls.close(), floor.close(), lean.close(), nginx.close()]);
      await Promise.all([up.close(), upTls.close()]);
    },
  };
}

async function measure(kind, t, connections, seconds) {
  const cpu0 = cpuMsOf(t.pid);
  let r;
  if (kind === 'plain') {
    r = await runWrk({ ...t.wrk, connections, seconds });
  } else {
    r = await runTool('load.mjs', {
      target: t.target,
      connections,
      seconds,
      request: { path: '/v1/messages', host: t.host, headers: { ...CLIENT_HEADERS, ...(t.extra ?? {}) }, body: REQUEST_BODY },
    });
  }
  const requests = Math.max(1, Math.round(r.rps * seconds));
  return { rps: r.rps, p50Ms: r.p50Ms, p99Ms: r.p99Ms, errors: r.errors, timeouts: r.timeouts ?? 0, cpuUsPerReq: ((cpuMsOf(t.pid) - cpu0) * 1000) / requests };
}

const summarize = (values) => ({ median: median(values), spread: spread(values), values });

/** Runs the scenario: rounds interleave targets (rotating the order) so noise hits all of them alike. */
export async function runOverhead({ dir, rounds, seconds, warmup = 0, log }) {
  const token = `sk-ant-oat01-bench-${Math.random().toString(36).slice(2)}`;
  const env = await setupProxies({ dir, token });
  const raw = []; // {kind, connections, round, target, ...measure}
  try {
    // Unrecorded load first: the Node proxies (ours, fastify, the references) are measured after
    // their JIT has compiled the hot path, as in a long-running deployment.
    if (warmup > 0) {
      for (const kind of ['plain', 'tls']) {
        for (const t of env[kind]) {
          const m = await measure(kind, t, 64, warmup);
          log(`  overhead warm-up ${kind} ${t.name.padEnd(14)} ${Math.round(m.rps)} req/s (not recorded)`);
        }
      }
    }
    for (let round = 0; round < rounds; round++) {
      for (const kind of ['plain', 'tls']) {
        for (const connections of [64, 1]) {
          const targets = env[kind];
          const order = targets.map((_, i) => targets[(i + round) % targets.length]);
          for (const t of order) {
            const m = await measure(kind, t, connections, seconds);
            raw.push({ kind, connections, round, target: t.name, ...m });
            log(`  overhead ${kind} c=${connections} round ${round + 1}/${rounds} ${t.name.padEnd(14)} ${Math.round(m.rps)} req/s p50 ${m.p50Ms.toFixed(2)} ms p99 ${m.p99Ms.toFixed(2)} ms errors ${m.errors} cpu ${m.cpuUsPerReq.toFixed(0)} µs/req`);
          }
        }
      }
    }
    const upStats = await env.up.stats();
    const upTlsStats = await env.upTls.stats();
    const table = [];
    for (const kind of ['plain', 'tls']) {
      for (const connections of [64, 1]) {
        const rows = raw.filter((r) => r.kind === kind && r.connections === connections);
        for (const name of [...new Set(rows.map((r) => r.target))]) {
          const mine = rows.filter((r) => r.target === name);
          const perRound = (other, f) =>
            mine.map((m) => {
              const o = rows.find((r) => r.target === other && r.round === m.round);
              return o ? f(m, o) : Number.NaN;
            });
          table.push({
            kind,
            connections,
            target: name,
            rps: summarize(mine.map((m) => m.rps)),
            p50Ms: summarize(mine.map((m) => m.p50Ms)),
            p99Ms: summarize(mine.map((m) => m.p99Ms)),
            cpuUsPerReq: summarize(mine.map((m) => m.cpuUsPerReq)),
            errors: mine.reduce((a, m) => a + m.errors, 0),
            timeouts: mine.reduce((a, m) => a + m.timeouts, 0),
            vsNginxRps: summarize(perRound('nginx', (m, o) => m.rps / o.rps)),
            vsFastifyRps: summarize(perRound('fastify', (m, o) => m.rps / o.rps)),
            vsNginxP99: summarize(perRound('nginx', (m, o) => m.p99Ms / o.p99Ms)),
          });
        }
      }
    }
    return { table, upstream: { plain: upStats, tls: upTlsStats } };
  } finally {
    await env.close();
  }
}
