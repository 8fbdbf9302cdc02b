// Scenario 3: many concurrent open streams through one supervisor: errors and resident memory per stream.
import { setupRoute, startGateway } from '../lib/gateway.mjs';
import { forkIpc, rssOf, startService } from '../lib/proc.mjs';
import { startSupervisor } from '../lib/supervisor.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function runScale({ dir, streams, events, intervalMs, log }) {
  const token = `sk-ant-oat01-bench-${Math.random().toString(36).slice(2)}`;
  const up = await startService('upstream', { expectedToken: token, sseEvents: events, sseIntervalMs: intervalMs }, { logFile: `${dir}/upstream-scale.log` });
  const gw = await startGateway({ dir });
  const [sandboxToken] = await setupRoute(gw, { upstreamUrl: up.url, credential: token });
  const sup = await startSupervisor({ gatewayUrl: gw.url, token: sandboxToken, dir, sandbox: 'bench-0' });
  const client = forkIpc('scale-proc.mjs', { logFile: `${dir}/scale-client.log` });
  const timeoutMs = 60_000 + events * intervalMs * 2;
  try {
    // Warm-up: a small wave through the same code paths, so the idle figure includes compiled code.
    await client.call({ op: 'open', port: sup.port, authorization: sup.proxyAuthorization, n: 50, timeoutMs }, timeoutMs + 10_000);
    const warm = await client.call({ op: 'finish', timeoutMs }, timeoutMs + 10_000);
    await sleep(1_000);
    const rssIdle = rssOf(sup.pid);
    const opened = await client.call({ op: 'open', port: sup.port, authorization: sup.proxyAuthorization, n: streams, timeoutMs }, timeoutMs + 10_000);
    // Sample while every stream is open (they last events × interval).
    let rssOpen = 0;
    for (let i = 0; i < 5; i++) {
      rssOpen = Math.max(rssOpen, rssOf(sup.pid));
      await sleep(Math.min(200, (events * intervalMs) / 10));
    }
    const finished = await client.call({ op: 'finish', timeoutMs }, timeoutMs + 10_000);
    const stats = await up.stats();
    const result = {
      streams,
      opened: opened.opened,
      completed: finished.completed,
      errors: finished.errors + warm.errors,
      events: finished.events,
      rssIdleMiB: rssIdle / 2 ** 20,
      rssOpenMiB: rssOpen / 2 ** 20,
      rssPerStreamKiB: (rssOpen - rssIdle) / streams / 1024,
      upstream: stats,
    };
    log(`  scale ${streams} streams: opened ${result.opened}, completed ${result.completed}, errors ${result.errors}, RSS ${result.rssIdleMiB.toFixed(1)} → ${result.rssOpenMiB.toFixed(1)} MiB = ${result.rssPerStreamKiB.toFixed(1)} KiB/stream`);
    return result;
  } finally {
    await client.call({ op: 'close' }).catch(() => undefined);
    await client.kill();
    await sup.close();
    await gw.close();
    await up.close();
  }
}
