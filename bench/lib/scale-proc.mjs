// Opens many concurrent streamed requests through a proxy (absolute-URI form) and keeps them open.
// IPC: {op:'open', port, authorization, n, timeoutMs} → {opened, errors} once every stream has
// delivered its first event (or failed); {op:'finish', timeoutMs} → {completed, errors, events}.
import http from 'node:http';
import { STREAM_REQUEST_BODY } from './upstream.mjs';

const body = Buffer.from(STREAM_REQUEST_BODY);
let streams = [];

function openOne(port, authorization) {
  const s = { first: undefined, done: undefined, events: 0, ok: false, error: false };
  let markFirst;
  let markDone;
  s.first = new Promise((r) => {
    markFirst = r;
  });
  s.done = new Promise((r) => {
    markDone = r;
  });
  const fail = () => {
    s.error = true;
    markFirst();
    markDone();
  };
  const req = http.request(
    {
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: 'http://inference.local/v1/messages',
      agent: false,
      headers: {
        host: 'inference.local',
        'proxy-authorization': authorization,
        'content-type': 'application/json',
        'anthropic-version': '2023-06-01',
        'content-length': body.length,
      },
    },
    (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        fail();
        return;
      }
      let tail = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        const text = tail + chunk;
        s.events += text.split('\n\n').length - 1;
        tail = text.slice(text.lastIndexOf('\n\n') + 2);
        if (text.includes('message_stop')) s.ok = true;
        markFirst();
      });
      res.on('end', () => markDone());
      res.on('error', fail);
    },
  );
  req.on('error', fail);
  req.end(body);
  return s;
}

const within = (p, ms) => Promise.race([p, new Promise((r) => setTimeout(r, ms))]);

process.on('message', async (msg) => {
  try {
    if (msg.op === 'open') {
      streams = [];
      for (let i = 0; i < msg.n; i++) {
        streams.push(openOne(msg.port, msg.authorization));
        // Open in small bursts so the accept queue is not the thing measured.
        if (i % 100 === 99) await new Promise((r) => setImmediate(r));
      }
      await within(Promise.all(streams.map((s) => s.first)), msg.timeoutMs);
      const opened = streams.filter((s) => s.events > 0 && !s.error).length;
      process.send({ ok: true, opened, errors: streams.filter((s) => s.error).length });
    } else if (msg.op === 'finish') {
      await within(Promise.all(streams.map((s) => s.done)), msg.timeoutMs);
      process.send({
        ok: true,
        completed: streams.filter((s) => s.ok && !s.error).length,
        errors: streams.filter((s) => s.error || !s.ok).length,
        events: streams.reduce((a, s) => a + s.events, 0),
      });
    } else if (msg.op === 'close') {
      process.send({ ok: true });
      process.disconnect();
      setTimeout(() => process.exit(0), 50);
    }
  } catch (err) {
    process.send({ ok: false, error: err instanceof Error ? err.stack : String(err) });
  }
});
