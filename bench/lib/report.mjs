// Correctness checks (the smoke mode's verdict) and the Markdown report with targets.
const f = (v, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');
const pct = (s) => (s && Number.isFinite(s.spread) ? `±${Math.round((s.spread * 100) / 2)}%` : '');
const ms = (s, d = 2) => `${f(s.median, d)} ${pct(s)}`.trim();

/** Correctness problems (not performance targets): errors, missing auth, lost events, extra token calls. */
export function checkResults(results) {
  const problems = [];
  const { overhead, streaming, scale, propagation, stampede } = results.scenarios;
  if (overhead) {
    for (const row of overhead.table) if (row.errors > 0) problems.push(`overhead ${row.kind} c=${row.connections} ${row.target}: ${row.errors} errors`);
    for (const [k, st] of Object.entries(overhead.upstream)) {
      if (st.badAuth > 0 || st.badBeta > 0) problems.push(`overhead ${k}: upstream saw ${st.badAuth} requests without the injected bearer and ${st.badBeta} without the merged beta`);
      if (st.requests === 0) problems.push(`overhead ${k}: upstream saw no request`);
    }
  }
  if (streaming) {
    for (const row of streaming.table) {
      if (row.badStreams > 0) problems.push(`streaming ${row.target}: ${row.badStreams} streams incomplete, out of order or not 200`);
      if (row.events !== row.expectedEvents) problems.push(`streaming ${row.target}: ${row.events} of ${row.expectedEvents} events arrived`);
    }
    if (streaming.upstream.badAuth > 0 || streaming.upstream.badBeta > 0) problems.push('streaming: upstream saw requests without injected auth');
  }
  if (scale) {
    if (scale.errors > 0 || scale.completed !== scale.streams) problems.push(`scale: ${scale.completed}/${scale.streams} streams completed, ${scale.errors} errors`);
    if (scale.upstream.badAuth > 0) problems.push('scale: upstream saw requests without injected auth');
  }
  if (propagation && propagation.missed > 0) problems.push(`propagation: ${propagation.missed} subscriber updates did not arrive within 10 s`);
  if (stampede) {
    stampede.tokenCallsPerRound.forEach((n, i) => {
      if (n !== 1) problems.push(`stampede round ${i + 1}: ${n} token-endpoint calls (must be 1)`);
    });
    stampede.answered.forEach((n, i) => {
      if (n !== stampede.reports) problems.push(`stampede round ${i + 1}: ${n}/${stampede.reports} reports answered 200`);
    });
    stampede.rotatedAnswers.forEach((n, i) => {
      if (n !== stampede.reports) problems.push(`stampede round ${i + 1}: ${n}/${stampede.reports} answers carried the rotated credential`);
    });
  }
  return problems;
}

/** Targets of issue 9, each with its measured value and verdict. */
export function targets(results) {
  const out = [];
  const { overhead, streaming, scale, propagation, stampede, startup } = results.scenarios;
  const row = (kind, c, t) => overhead?.table.find((r) => r.kind === kind && r.connections === c && r.target === t);
  for (const kind of ['plain', 'tls']) {
    const b = row(kind, 64, 'boundary');
    if (!b) continue;
    const label = kind === 'plain' ? 'http://inference.local' : 'CONNECT + TLS';
    out.push({ target: `${label}, 64 conns: throughput ≥ 2× @fastify/http-proxy`, value: `${f(b.vsFastifyRps.median, 2)}×`, met: b.vsFastifyRps.median >= 2 });
    out.push({ target: `${label}, 64 conns: throughput ≥ 0.5× nginx (stretch 0.7×)`, value: `${f(b.vsNginxRps.median, 2)}×`, met: b.vsNginxRps.median >= 0.5 });
    out.push({ target: `${label}, 64 conns: p99 ≤ 1.5× nginx's p99`, value: `${f(b.vsNginxP99.median, 2)}×`, met: b.vsNginxP99.median <= 1.5 });
  }
  const sb = streaming?.table.find((r) => r.target === 'boundary');
  if (sb) {
    out.push({ target: 'Streaming: added per-event delay p99 ≤ 1 ms', value: `${f(sb.addedDelayP99Ms.median, 3)} ms`, met: sb.addedDelayP99Ms.median <= 1 });
    out.push({ target: 'Streaming: no event held back (all events, in order)', value: `${sb.events}/${sb.expectedEvents}, max delay ${f(sb.delayMaxMs.median, 2)} ms`, met: sb.events === sb.expectedEvents && sb.badStreams === 0 });
  }
  if (scale) {
    out.push({ target: `${scale.streams} streams: 0 errors`, value: `${scale.errors} errors`, met: scale.errors === 0 && scale.completed === scale.streams });
    out.push({ target: `${scale.streams} streams: ≤ 40 KB RSS per stream`, value: `${f(scale.rssPerStreamKiB)} KiB`, met: scale.rssPerStreamKiB <= 40 });
  }
  if (propagation) out.push({ target: 'Propagation p99 ≤ 250 ms', value: `${f(propagation.p99Ms)} ms`, met: propagation.p99Ms <= 250 && propagation.missed === 0 });
  if (stampede) out.push({ target: 'Stampede → exactly 1 token call', value: stampede.tokenCallsPerRound.join(', '), met: stampede.tokenCallsPerRound.every((n) => n === 1) });
  if (startup) {
    out.push({ target: '`openshell --version` ≤ 2.5× `node -e 0`', value: `${f(startup.versionRatio.median, 2)}×`, met: startup.versionRatio.median <= 2.5 });
    out.push({ target: 'Gateway ready ≤ 1 s (fresh SQLite dir)', value: `${f(startup.gatewayFreshReadyMs.median, 0)} ms`, met: startup.gatewayFreshReadyMs.median <= 1000 });
  }
  return out;
}

export function renderMarkdown(results) {
  const m = results.machine;
  const lines = [];
  const { overhead, streaming, scale, propagation, stampede, startup } = results.scenarios;
  lines.push('# OpenShell-TS benchmark results', '');
  lines.push(`Written by \`pnpm bench\` (bench/run.mjs) on ${m.date}. ${results.rounds} interleaved rounds, ${results.seconds} s per load run${results.warmup ? ` (after ${results.warmup} s of unrecorded warm-up load per overhead target)` : ''}; figures are medians over rounds, ±x% is half the (max − min) / median spread, ratios are taken per round against the comparator measured in the same round, then the median.`, '');
  lines.push('## Machine', '');
  lines.push(`- CPUs (nproc): ${m.nproc} (${m.cpu}); memory (free -h): \`${m.memory}\``);
  lines.push(`- ${m.kernel}; Node ${m.node}; ${m.nginx}; ${m.wrk}`);
  lines.push(`- /proc/loadavg before: \`${m.loadAverage}\`, after: \`${m.loadAverageAfter}\` — the 2 cores were shared with other work during the run, so absolute numbers are noisy; compare ratios.`);
  lines.push('- Everything on loopback: fake model API (Node), nginx (1 worker), @fastify/http-proxy, the real gateway (createGateway, SQLite) and one real supervisor (runSupervisor, isolation none), each in its own process; load from wrk (plain http) and a Node keep-alive generator (TLS paths).', '');
  lines.push('## Targets', '', '| Target | Measured | Met |', '|---|---|---|');
  for (const t of targets(results)) lines.push(`| ${t.target} | ${t.value} | ${t.met ? 'yes' : '**no**'} |`);
  lines.push('');
  if (overhead) {
    lines.push('## 1. Overhead, non-streaming (≈2 KB POST, 1 KB JSON answer)', '');
    lines.push('`plain` = http: wrk to the fake API (direct), to the supervisor proxy with absolute-URI `http://inference.local/v1/messages` + Proxy-Authorization (boundary), to nginx and @fastify/http-proxy; two bench-only references: `node-floor` (node:http server + undici Pool doing only the header job, no checks or logs) and `lean-prototype` (raw net sockets and minimal HTTP/1.1 framing, bench/lib/lean-proxy.mjs; not production code). `tls` = the Node generator: TLS direct to an https fake API, CONNECT inference.local:443 + TLS with the sandbox CA through the supervisor (boundary), TLS terminated by nginx / fastify. Each proxy strips client auth, sets the bearer and merges the beta. CPU = CPU time (user + system) of the serving process per request (nginx: its worker; direct: the fake API).', '');
    lines.push('| Path | Conns | Target | req/s | p50 ms | p99 ms | CPU µs/req | ×nginx req/s | ×fastify req/s | ×nginx p99 | errors |', '|---|---|---|---|---|---|---|---|---|---|---|');
    for (const r of overhead.table) {
      lines.push(
        `| ${r.kind} | ${r.connections} | ${r.target} | ${f(r.rps.median, 0)} ${pct(r.rps)} | ${ms(r.p50Ms)} | ${ms(r.p99Ms)} | ${f(r.cpuUsPerReq.median, 0)} | ${f(r.vsNginxRps.median, 2)} | ${f(r.vsFastifyRps.median, 2)} | ${f(r.vsNginxP99.median, 2)} | ${r.errors}${r.timeouts ? ` (+${r.timeouts} timeouts > 10 s)` : ''} |`,
      );
    }
    lines.push('', `Upstream checks: plain ${JSON.stringify(overhead.upstream.plain)}, tls ${JSON.stringify(overhead.upstream.tls)} (badAuth/badBeta = requests without the injected bearer / merged beta).`, '');
  }
  if (streaming) {
    lines.push('## 2. Streaming (SSE, 500 events, one per ms)', '');
    lines.push('Delay = arrival at the client minus the upstream\'s write time (wall clock, sub-ms); p50/p99 per stream, median over the round\'s streams, then over rounds; "added" = minus direct\'s figure in the same round. TTFB = request sent → first event. Max delay = the worst single event seen (scheduler stalls on the shared machine included).', '');
    lines.push('| Target | TTFB ms | added TTFB ms | delay p50 ms | delay p99 ms | added p50 ms | added p99 ms | max delay ms | events |', '|---|---|---|---|---|---|---|---|---|');
    for (const r of streaming.table) {
      lines.push(`| ${r.target} | ${ms(r.ttfbMs)} | ${ms(r.addedTtfbMs, 3)} | ${ms(r.delayP50Ms, 3)} | ${ms(r.delayP99Ms, 3)} | ${ms(r.addedDelayP50Ms, 3)} | ${ms(r.addedDelayP99Ms, 3)} | ${ms(r.delayMaxMs)} | ${r.events}/${r.expectedEvents} |`);
    }
    lines.push('');
  }
  if (scale) {
    lines.push('## 3. Scale (concurrent open streams through one supervisor)', '');
    lines.push('| Streams | Opened | Completed | Errors | RSS idle MiB | RSS with streams MiB | RSS per stream KiB |', '|---|---|---|---|---|---|---|');
    lines.push(`| ${scale.streams} | ${scale.opened} | ${scale.completed} | ${scale.errors} | ${f(scale.rssIdleMiB)} | ${f(scale.rssOpenMiB)} | ${f(scale.rssPerStreamKiB)} |`, '');
  }
  if (propagation) {
    lines.push('## 4. Propagation (credential PATCHed at the gateway → bundle subscribers)', '');
    lines.push('| Subscribers | Rotations | min ms | p50 ms | p99 ms | max ms | per-rotation p99 (median) | first (cold) rotation p99 ms | missed |', '|---|---|---|---|---|---|---|---|---|');
    lines.push(`| ${propagation.subscribers} | ${propagation.rotations} | ${f(propagation.minMs)} | ${f(propagation.p50Ms)} | ${f(propagation.p99Ms)} | ${f(propagation.maxMs)} | ${ms(propagation.perRotationP99Ms, 1)} | ${f(propagation.coldP99Ms)} | ${propagation.missed} |`, '');
    lines.push('All subscribers run in the bench process (the supervisor\'s createBundleSync each, with its own connection), so the last one\'s delay includes the parsing of the 99 bundles before it; separate supervisor processes would parse in parallel.', '');
  }
  if (stampede) {
    lines.push('## 5. Stampede (concurrent credential-rejected reports for one credential)', '');
    lines.push('| Reports | Rounds | Token calls per round | Answered 200 | With rotated credential | Time to all answered ms |', '|---|---|---|---|---|---|');
    lines.push(`| ${stampede.reports} | ${stampede.rounds} | ${stampede.tokenCallsPerRound.join(', ')} | ${stampede.answered.join(', ')} | ${stampede.rotatedAnswers.join(', ')} | ${ms(stampede.allAnsweredMs, 0)} |`, '');
  }
  if (startup) {
    lines.push('## 6. Start-up', '');
    lines.push('| Command | ms | × `node -e 0` |', '|---|---|---|');
    lines.push(`| \`node -e 0\` | ${ms(startup.nodeMs, 1)} | 1 |`);
    lines.push(`| \`openshell --version\` | ${ms(startup.versionMs, 1)} | ${ms(startup.versionRatio)} |`);
    lines.push(`| \`openshell --help\` | ${ms(startup.helpMs, 1)} | ${ms(startup.helpRatio)} |`);
    lines.push(`| \`openshell gateway start\` → /readyz 200, fresh SQLite dir | ${ms(startup.gatewayFreshReadyMs, 0)} | |`);
    lines.push(`| \`openshell gateway start\` → /readyz 200, existing dir | ${ms(startup.gatewayRestartReadyMs, 0)} | |`, '');
  }
  if (results.failures.length > 0) lines.push('## Problems', '', ...results.failures.map((p) => `- ${p.split('\n')[0]}`), '');
  if (results.analysis) lines.push(results.analysis.trim(), '');
  return `${lines.join('\n')}\n`;
}
