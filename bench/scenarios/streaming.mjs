// Scenario 2: an SSE answer of N events, one per millisecond, through each proxy: time to the first
// event and per-event delay (arrival minus upstream write time), compared with direct in the same round.
import { setupRoute, startGateway } from '../lib/gateway.mjs';
import { startNginx } from '../lib/nginx.mjs';
import { runTool, startService } from '../lib/proc.mjs';
import { median, spread } from '../lib/stats.mjs';
import { startSupervisor } from '../lib/supervisor.mjs';

export async function runStreaming({ dir, rounds, streams, events, log }) {
  const token = `sk-ant-oat01-bench-${Math.random().toString(36).slice(2)}`;
  const up = await startService('upstream', { expectedToken: token, sseEvents: events, sseIntervalMs: 1 }, { logFile: `${dir}/upstream-sse.log` });
  const fastify = await startService('fastify', { upstreamUrl: up.url, token }, { logFile: `${dir}/fastify-sse.log` });
  const nginx = await startNginx({ upstreamPort: up.port, token });
  const gw = await startGateway({ dir: `${dir}` });
  const [sandboxToken] = await setupRoute(gw, { upstreamUrl: up.url, credential: token });
  const sup = await startSupervisor({ gatewayUrl: gw.url, token: sandboxToken, dir, sandbox: 'bench-0' });
  const targets = [
    { name: 'direct', target: { port: up.port, path: '/v1/messages', headers: { authorization: `Bearer ${token}`, 'anthropic-beta': 'oauth-2025-04-20' } } },
    { name: 'boundary', target: { port: sup.port, path: 'http://inference.local/v1/messages', headers: { host: 'inference.local', 'proxy-authorization': sup.proxyAuthorization } } },
    { name: 'nginx', target: { port: nginx.port, path: '/v1/messages' } },
    { name: 'fastify', target: { port: fastify.port, path: '/v1/messages' } },
  ];
  const raw = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const order = targets.map((_, i) => targets[(i + round) % targets.length]);
      for (const t of order) {
        const r = await runTool('sse-probe.mjs', { target: t.target, streams });
        raw.push({ round, target: t.name, ...r });
        log(
          `  streaming round ${round + 1}/${rounds} ${t.name.padEnd(8)} ttfb ${r.ttfbP50Ms.toFixed(2)} ms, event delay p50 ${r.delayP50Ms.toFixed(3)} p99 ${r.delayP99Ms.toFixed(3)} max ${r.delayMaxMs.toFixed(2)} ms, events ${r.events}, bad streams ${r.badStreams}`,
        );
      }
    }
    const stats = await up.stats();
    const table = targets.map(({ name }) => {
      const mine = raw.filter((r) => r.target === name);
      const added = (field) =>
        mine.map((m) => {
          const d = raw.find((r) => r.target === 'direct' && r.round === m.round);
          return d ? m[field] - d[field] : Number.NaN;
        });
      const s = (v) => ({ median: median(v), spread: spread(v), values: v });
      return {
        target: name,
        ttfbMs: s(mine.map((m) => m.ttfbP50Ms)),
        delayP50Ms: s(mine.map((m) => m.delayP50Ms)),
        delayP99Ms: s(mine.map((m) => m.delayP99Ms)),
        delayMaxMs: s(mine.map((m) => m.delayMaxMs)),
        addedTtfbMs: s(added('ttfbP50Ms')),
        addedDelayP50Ms: s(added('delayP50Ms')),
        addedDelayP99Ms: s(added('delayP99Ms')),
        events: mine.reduce((a, m) => a + m.events, 0),
        expectedEvents: mine.length * streams * events,
        badStreams: mine.reduce((a, m) => a + m.badStreams, 0),
      };
    });
    return { table, upstream: stats };
  } finally {
    await sup.close();
    await gw.close();
    await Promise.all([fastify.close(), nginx.close()]);
    await up.close();
  }
}
