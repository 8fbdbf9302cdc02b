// Child processes of the bench: IPC-driven services (fork) and one-shot JSON tools (spawn).
import { fork, spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = (name) => fileURLToPath(new URL(name, import.meta.url));

/**
 * `OPENSHELL_BENCH_PROFILE=DIR` (run.mjs --profile DIR): the gateway and supervisor processes run
 * with --cpu-prof and write their profiles to DIR when they exit.
 */
export function profileArgv(script) {
  const dir = process.env.OPENSHELL_BENCH_PROFILE;
  if (!dir || !/^(gateway|supervisor)-proc\.mjs$/.test(script)) return [];
  return ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${script.replace('-proc.mjs', '')}-${Date.now()}-${process.pid}.cpuprofile`];
}

/**
 * Forks `script` (a file in lib/) with an IPC channel; `call(msg)` sends one message and resolves with
 * the answer (calls are serialized). stderr goes to `logFile` when given, else is discarded.
 */
export function forkIpc(script, { logFile, execArgv = profileArgv(script), env } = {}) {
  const err = logFile === undefined ? 'ignore' : openSync(logFile, 'a');
  const child = fork(here(script), [], { stdio: ['ignore', 'ignore', err, 'ipc'], execArgv, ...(env ? { env } : {}) });
  let chain = Promise.resolve();
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const call = (msg, timeoutMs = 120_000) => {
    const p = chain.then(
      () =>
        new Promise((resolve, reject) => {
          if (exited) return reject(new Error(`${script} has exited`));
          const timer = setTimeout(() => reject(new Error(`${script}: no answer to ${msg.op} within ${timeoutMs} ms`)), timeoutMs);
          const onExit = (code) => {
            clearTimeout(timer);
            reject(new Error(`${script} exited (code ${code}) before answering ${msg.op}`));
          };
          child.once('exit', onExit);
          child.once('message', (answer) => {
            clearTimeout(timer);
            child.off('exit', onExit);
            if (answer?.ok === false) reject(new Error(`${script}: ${answer.error}`));
            else resolve(answer);
          });
          child.send(msg);
        }),
    );
    chain = p.catch(() => undefined);
    return p;
  };
  const kill = async () => {
    if (exited) return;
    const gone = new Promise((r) => child.once('exit', r));
    // A child that was told to close exits by itself (and writes its --cpu-prof); give it 3 s.
    const grace = await Promise.race([gone.then(() => true), new Promise((r) => setTimeout(() => r(false), 3_000))]);
    if (grace) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await gone;
    clearTimeout(t);
  };
  return { child, pid: child.pid, call, kill };
}

/** Starts a bench service (fake upstream or @fastify/http-proxy) in its own process. */
export async function startService(kind, options, { logFile } = {}) {
  const proc = forkIpc('service-proc.mjs', { logFile });
  const started = await proc.call({ op: 'start', kind, options });
  return {
    pid: proc.pid,
    port: started.port,
    url: started.url,
    stats: async () => (await proc.call({ op: 'stats' })).stats,
    close: async () => {
      await proc.call({ op: 'close' }).catch(() => undefined);
      await proc.kill();
    },
  };
}

/** Runs `node lib/<script>` with `input` as JSON on stdin and parses its last stdout line as JSON (bounded in time). */
export function runTool(script, input, { timeoutMs = 600_000 } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [here(script)], { stdio: ['pipe', 'pipe', 'pipe'] });
    p.stdin.end(JSON.stringify(input));
    let out = '';
    let err = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.stdout.setEncoding('utf8');
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.stderr.on('data', (d) => {
      err += d;
    });
    p.on('error', reject);
    p.on('exit', (code) => {
      clearTimeout(timer);
      const lines = out.trim().split('\n');
      try {
        const parsed = JSON.parse(lines[lines.length - 1] ?? '');
        if (code !== 0) reject(new Error(`${script} exited ${code}: ${err.slice(-2000)}`));
        else resolve(parsed);
      } catch {
        reject(new Error(`${script} exited ${code} without a JSON result: ${err.slice(-2000)}${out.slice(-500)}`));
      }
    });
  });
}

/** Resident set size of a process in bytes (Linux /proc), or NaN. */
export function rssOf(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Reads a tool's JSON input from stdin. */
export async function readInput() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

const CLK_TCK = 100;

/** CPU time (user + system) of a process and, with `withChildren`, of its descendants' threads, in ms (Linux /proc). */
export function cpuMsOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[11] = utime, fields[12] = stime (after pid and comm)
    const user = (Number(fields[11]) * 1000) / CLK_TCK;
    const sys = (Number(fields[12]) * 1000) / CLK_TCK;
    return process.env.BENCH_CPU_PART === "user" ? user : process.env.BENCH_CPU_PART === "sys" ? sys : user + sys;
  } catch {
    return Number.NaN;
  }
}
