// Runs wrk with a Messages-shaped POST and parses requests/s and latency percentiles.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REQUEST_BODY } from './upstream.mjs';

export function wrkAvailable() {
  return spawnSync('wrk', ['--version']).error === undefined;
}

const luaString = (s) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/**
 * `path` may be an absolute URI (proxy-style request line); `headers` are added to every request.
 * Returns { rps, p50Ms, p99Ms, errors, timeouts }.
 */
export async function runWrk({ url, path = '/v1/messages', connections, seconds, headers = {} }) {
  const dir = mkdtempSync(join(tmpdir(), 'openshell-bench-wrk-'));
  const script = join(dir, 'post.lua');
  const hdrs = {
    host: new URL(path.startsWith('http') ? path : url).host,
    'content-type': 'application/json',
    'anthropic-version': '2023-06-01',
    'anthropic-beta': 'claude-code-20250219,interleaved-thinking-2025-05-14',
    'x-api-key': 'sandbox-placeholder',
    ...headers,
  };
  writeFileSync(
    script,
    `local body = ${luaString(REQUEST_BODY)}
local headers = {}
${Object.entries(hdrs).map(([k, v]) => `headers[${luaString(k)}] = ${luaString(v)}`).join('\n')}
local req = wrk.format("POST", ${luaString(path)}, headers, body)
request = function() return req end
`,
  );
  const threads = Math.min(2, connections);
  const out = await new Promise((resolve, reject) => {
    const p = spawn('wrk', ['-t', String(threads), '-c', String(connections), '-d', `${seconds}s`, '--timeout', '10s', '--latency', '-s', script, url]);
    let text = '';
    p.stdout.on('data', (d) => { text += d; });
    p.stderr.on('data', (d) => { text += d; });
    p.on('error', reject);
    p.on('exit', () => resolve(text));
  });
  const num = (re) => {
    const m = out.match(re);
    return m ? m[1] : undefined;
  };
  const toMs = (v) => {
    if (!v) return Number.NaN;
    const m = v.match(/^([\d.]+)(us|ms|s|m)$/);
    if (!m) return Number.NaN;
    const n = Number(m[1]);
    return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
  };
  const non2xx = Number(num(/Non-2xx or 3xx responses: (\d+)/) ?? 0);
  const sockErr = out.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  // Timeouts (no answer within 10 s) are a symptom of an overloaded machine, not a wrong answer: reported apart.
  const errors = non2xx + (sockErr ? sockErr.slice(1, 4).reduce((a, b) => a + Number(b), 0) : 0);
  const timeouts = sockErr ? Number(sockErr[4]) : 0;
  return {
    rps: Number(num(/Requests\/sec:\s+([\d.]+)/)),
    p50Ms: toMs(num(/\s50%\s+([\d.]+\w+)/)),
    p99Ms: toMs(num(/\s99%\s+([\d.]+\w+)/)),
    errors,
    timeouts,
    raw: out,
  };
}
