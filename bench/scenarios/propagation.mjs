// Scenario 4: a credential rotated at the gateway reaches N waiting bundle subscribers (the
// supervisor's own sync client, createBundleSync, one per sandbox, all in this process).
import { Secret } from '@openshell/core';
import { createBundleSync, createLogger } from '@openshell/supervisor';
import { setupRoute, startGateway } from '../lib/gateway.mjs';
import { median, percentile, spread } from '../lib/stats.mjs';
import { wallMs } from '../lib/upstream.mjs';

export async function runPropagation({ dir, subscribers, rotations, log }) {
  const gw = await startGateway({ dir });
  const first = `sk-ant-oat01-bench-rot-0-${Math.random().toString(36).slice(2)}`;
  const tokens = await setupRoute(gw, { upstreamUrl: 'http://127.0.0.1:9', credential: first, sandboxes: subscribers });
  const quiet = createLogger({ level: 'error', stream: { write: () => undefined } });
  const syncs = tokens.map((t) => createBundleSync({ gatewayUrl: gw.url, token: new Secret(t), log: quiet, waitSeconds: 25 }));
  const perRotation = [];
  const all = [];
  let missed = 0;
  try {
    await Promise.all(syncs.map((s) => s.start()));
    let pending;
    for (const s of syncs) {
      s.onUpdate((bundle) => {
        if (pending !== undefined && bundle.routes[0]?.auth.value === pending.value) pending.seen(wallMs());
      });
      s.watch();
    }
    // Let every long-poll reach the gateway.
    await new Promise((r) => setTimeout(r, 500));
    // Rotation 0 is a warm-up (a long-running gateway has its code compiled); it is reported apart.
    let coldP99Ms = Number.NaN;
    for (let i = 0; i <= rotations; i++) {
      const value = `sk-ant-oat01-bench-rot-${i}-${Math.random().toString(36).slice(2)}`;
      const delays = [];
      let resolveAll;
      const done = new Promise((r) => {
        resolveAll = r;
      });
      const t0 = wallMs();
      pending = {
        value,
        seen: (at) => {
          delays.push(at - t0);
          if (delays.length === syncs.length) resolveAll();
        },
      };
      const current = await gw.admin('GET', '/v1/providers/claude-plan');
      await gw.admin('PATCH', '/v1/providers/claude-plan', { resourceVersion: current.resourceVersion, credentials: { ANTHROPIC_OAUTH_TOKEN: value } });
      await Promise.race([done, new Promise((r) => setTimeout(r, 10_000))]);
      pending = undefined;
      if (i === 0) {
        coldP99Ms = percentile(delays, 99);
        if (delays.length !== syncs.length) missed += syncs.length - delays.length;
        log(`  propagation warm-up rotation: ${delays.length}/${syncs.length} subscribers, p99 ${coldP99Ms.toFixed(1)} ms`);
        await new Promise((r) => setTimeout(r, 300));
        continue;
      }
      missed += syncs.length - delays.length;
      perRotation.push({ p50Ms: percentile(delays, 50), p99Ms: percentile(delays, 99), maxMs: Math.max(...delays), received: delays.length });
      all.push(...delays);
      log(`  propagation rotation ${i}/${rotations}: ${delays.length}/${syncs.length} subscribers, p50 ${percentile(delays, 50).toFixed(1)} ms, p99 ${percentile(delays, 99).toFixed(1)} ms`);
      // Let the subscribers re-enter their long-polls before the next rotation.
      await new Promise((r) => setTimeout(r, 300));
    }
    return {
      subscribers,
      rotations,
      missed,
      minMs: Math.min(...all),
      p50Ms: percentile(all, 50),
      p99Ms: percentile(all, 99),
      maxMs: Math.max(...all),
      coldP99Ms,
      perRotationP99Ms: { median: median(perRotation.map((r) => r.p99Ms)), spread: spread(perRotation.map((r) => r.p99Ms)), values: perRotation.map((r) => r.p99Ms) },
    };
  } finally {
    await Promise.all(syncs.map((s) => s.close()));
    await gw.close();
  }
}
