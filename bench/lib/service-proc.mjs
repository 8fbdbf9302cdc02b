// Child-process host for a Node service of the bench (fake upstream, @fastify/http-proxy, the bare
// node:http + undici floor), so each
// runs on its own event loop like the real thing. Driven over IPC: {op:'start', kind, options},
// {op:'stats'}, {op:'close'}; answers {ok, ...} or {ok:false, error}.
import { startFastifyProxy } from './fastify-proxy.mjs';
import { startLeanProxy } from './lean-proxy.mjs';
import { startNodeFloor } from './node-floor.mjs';
import { startUpstream } from './upstream.mjs';

let service;

process.on('message', async (msg) => {
  try {
    if (msg.op === 'start') {
      const start = { upstream: startUpstream, fastify: startFastifyProxy, 'node-floor': startNodeFloor, lean: startLeanProxy }[msg.kind];
      if (start === undefined) throw new Error(`unknown service kind ${msg.kind}`);
      service = await start(msg.options);
      process.send({ ok: true, port: service.port, url: service.url });
    } else if (msg.op === 'stats') {
      process.send({ ok: true, stats: service?.stats ?? {} });
    } else if (msg.op === 'close') {
      await service?.close();
      process.send({ ok: true });
      process.disconnect();
      setTimeout(() => process.exit(0), 50);
    }
  } catch (err) {
    process.send({ ok: false, error: err instanceof Error ? err.stack : String(err) });
  }
});
