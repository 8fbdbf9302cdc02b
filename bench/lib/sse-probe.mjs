// Streaming probe (a tool: JSON on stdin → JSON line on stdout). Sends `streams` streamed Messages
// requests one after another to a target and times, per stream, the first event after the request
// was sent (TTFB, on a warm kept-alive connection) and, per event, its delay: arrival on this side minus the upstream's write time
// (`t` in the event, wall clock with sub-ms resolution). Checks that every event arrived in order.
import http from 'node:http';
import { readInput } from './proc.mjs';
import { percentile } from './stats.mjs';
import { STREAM_REQUEST_BODY, wallMs } from './upstream.mjs';

/** One stream: {ttfbMs, delays[], events, inOrder, complete, status}. */
export function probeStream({ port, host = '127.0.0.1', path, headers = {} }, agent = false) {
  return new Promise((resolve) => {
    const delays = [];
    let events = 0;
    let inOrder = true;
    let complete = false;
    let ttfbMs = Number.NaN;
    let status = 0;
    let buf = '';
    const body = Buffer.from(STREAM_REQUEST_BODY);
    const sent = wallMs();
    const req = http.request(
      {
        host,
        port,
        method: 'POST',
        path,
        agent,
        headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'content-length': body.length, ...headers },
      },
      (res) => {
        status = res.statusCode ?? 0;
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          const now = wallMs();
          if (Number.isNaN(ttfbMs)) ttfbMs = now - sent;
          buf += chunk;
          for (let end = buf.indexOf('\n\n'); end !== -1; end = buf.indexOf('\n\n')) {
            const frame = buf.slice(0, end);
            buf = buf.slice(end + 2);
            if (frame.includes('message_stop')) {
              complete = true;
              continue;
            }
            const m = /"seq":(\d+),"t":([\d.]+)/.exec(frame);
            if (!m) continue;
            events++;
            if (Number(m[1]) !== events) inOrder = false;
            delays.push(now - Number(m[2]));
          }
        });
        res.on('end', () => resolve({ ttfbMs, delays, events, inOrder, complete, status }));
        res.on('error', () => resolve({ ttfbMs, delays, events, inOrder, complete: false, status }));
      },
    );
    req.on('error', () => resolve({ ttfbMs, delays, events, inOrder, complete: false, status }));
    req.end(body);
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { target, streams } = await readInput();
  // One kept-alive connection, like an SDK client; a first, uncounted stream warms it and the path.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  await probeStream(target, agent);
  const ttfb = [];
  const delays = [];
  const streamP50 = [];
  const streamP99 = [];
  let events = 0;
  let bad = 0;
  for (let i = 0; i < streams; i++) {
    const r = await probeStream(target, agent);
    ttfb.push(r.ttfbMs);
    delays.push(...r.delays);
    streamP50.push(percentile(r.delays, 50));
    streamP99.push(percentile(r.delays, 99));
    events += r.events;
    if (r.status !== 200 || !r.complete || !r.inOrder) bad++;
  }
  process.stdout.write(
    `${JSON.stringify({
      ttfbP50Ms: percentile(ttfb, 50),
      ttfbMaxMs: Math.max(...ttfb),
      // Per stream, then the median over streams: one scheduler hiccup on this shared machine
      // then spoils one stream's tail, not the whole round's.
      delayP50Ms: percentile(streamP50, 50),
      delayP99Ms: percentile(streamP99, 50),
      pooledDelayP99Ms: percentile(delays, 99),
      delayMaxMs: Math.max(...delays),
      events,
      badStreams: bad,
    })}\n`,
  );
  process.exit(0);
}
