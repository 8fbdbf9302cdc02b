// One real supervisor run (runSupervisor, isolation none) in its own process: its child is a
// sleeper, and the bench drives its proxy from outside. IPC: {op:'start', ...} → {proxyUrl, caCertFile};
// {op:'close'}. The sandbox token arrives over IPC only (never argv or env).
import { Secret } from '@openshell/core';

// OPENSHELL_BENCH_SUPERVISOR=/path/to/dist/index.js measures another build of the supervisor (A/B).
const { runSupervisor } = await import(process.env.OPENSHELL_BENCH_SUPERVISOR ?? '@openshell/supervisor');

const abort = new AbortController();
let running;

process.on('message', async (msg) => {
  try {
    if (msg.op === 'start') {
      const ready = new Promise((resolve) => {
        running = runSupervisor({
          gatewayUrl: msg.gatewayUrl,
          sandbox: msg.sandbox,
          token: new Secret(msg.token),
          command: ['sleep', '86400'],
          isolation: 'none',
          workspace: msg.workspace,
          stdio: 'pipe',
          forwardSignals: false,
          signal: abort.signal,
          ...(msg.logLevel ? { logLevel: msg.logLevel } : {}),
          onReady: (info) => resolve({ proxyUrl: info.childEnv.HTTP_PROXY, caCertFile: info.caCertFile }),
        });
        running.catch((err) => process.send({ ok: false, error: err instanceof Error ? err.stack : String(err) }));
      });
      process.send({ ok: true, ...(await ready) });
    } else if (msg.op === 'close') {
      abort.abort();
      await running?.catch(() => undefined);
      process.send({ ok: true });
      process.disconnect();
      setTimeout(() => process.exit(0), 50);
    }
  } catch (err) {
    process.send({ ok: false, error: err instanceof Error ? err.stack : String(err) });
  }
});
