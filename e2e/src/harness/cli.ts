import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { CLI_BIN, REPO_ROOT } from './paths.js';

/** One run of the real `openshell` bin. */
export interface CliRun {
  readonly args: readonly string[];
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Command lines of every process seen on the machine while it ran (to prove no secret sat in any argv). */
  readonly commandLines: readonly string[];
  /** Environments (`/proc/PID/environ`) of the CLI and every process it started (supervisor, bwrap, the child…). */
  readonly environments: readonly string[];
}

/** Options of {@link runCli}. */
export interface RunCliOptions {
  readonly env: Record<string, string>;
  /** Written to stdin, which is then closed. */
  readonly stdin?: string;
  readonly timeoutMs?: number;
  /** Sample every process's command line, and the environments of the CLI's descendants, while it runs (default true). */
  readonly sampleArgv?: boolean;
}

async function sampleProcesses(root: number | undefined, commandLines: Set<string>, environments: Set<string>): Promise<void> {
  let pids: string[];
  try {
    pids = (await readdir('/proc')).filter((p) => /^\d+$/.test(p));
  } catch {
    return;
  }
  const parent = new Map<number, number>();
  await Promise.all(
    pids.map(async (pid) => {
      try {
        const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
        if (raw !== '') commandLines.add(raw.replace(/\0/g, ' ').trim());
        const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
        // "pid (comm) state ppid …": comm may hold spaces and parentheses, so parse after the last ')'.
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        parent.set(Number(pid), ppid);
      } catch {
        // the process exited meanwhile
      }
    }),
  );
  if (root === undefined) return;
  const isDescendant = (pid: number): boolean => {
    // Strict descendants: the CLI's own environment is the user's input (e.g. CLAUDE_CODE_OAUTH_TOKEN for --from-setup-token).
    for (let p: number | undefined = parent.get(pid), hops = 0; p !== undefined && p > 1 && hops < 64; p = parent.get(p), hops++) if (p === root) return true;
    return false;
  };
  await Promise.all(
    [...parent.keys()].filter(isDescendant).map(async (pid) => {
      try {
        const raw = await readFile(`/proc/${pid}/environ`, 'utf8');
        if (raw !== '') environments.add(raw.replace(/\0/g, '\n'));
      } catch {
        // exited, or not ours to read
      }
    }),
  );
}

/** Runs `openshell ...args` (packages/cli/bin/openshell.js, i.e. the built dist) as a child process. */
export async function runCli(args: readonly string[], options: RunCliOptions): Promise<CliRun> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const child = spawn(process.execPath, [CLI_BIN, ...args], { env: options.env, cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    stdout += c;
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
  });
  child.stdin.on('error', () => {});
  child.stdin.end(options.stdin ?? '');
  const seen = new Set<string>();
  const environments = new Set<string>();
  let running = true;
  const sampler = (async () => {
    if (options.sampleArgv === false) return;
    const deadline = Date.now() + timeoutMs;
    while (running && Date.now() < deadline) {
      await sampleProcesses(child.pid, seen, environments);
      await new Promise((r) => setTimeout(r, 40));
    }
  })();
  const code = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`openshell ${args.join(' ')} timed out after ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (c, signal) => {
      clearTimeout(timer);
      resolve(c ?? (signal ? 128 : 1));
    });
  });
  running = false;
  await sampler;
  return { args, code, stdout, stderr, commandLines: [...seen], environments: [...environments] };
}

/** Parses the JSON stdout of a `-o json` run, with the run's output in the error when it is not JSON. */
export function jsonOf<T = Record<string, unknown>>(run: CliRun): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`openshell ${run.args.join(' ')}: stdout is not JSON (exit ${run.code})\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  }
}

/** The last line of stdout that parses as a JSON object (sandbox clients print one). */
export function lastJsonLine<T = Record<string, unknown>>(text: string): T | undefined {
  const lines = text.split('\n').filter((l) => l.trim().startsWith('{'));
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      return JSON.parse(lines[i] as string) as T;
    } catch {
      // not this one
    }
  }
  return undefined;
}
