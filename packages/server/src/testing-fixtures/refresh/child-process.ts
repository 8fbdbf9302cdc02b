/** Spawns refresh-gateway-child.ts as a real process (test-only). */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildConfig } from './refresh-gateway-child.js';

const CHILD_SCRIPT = fileURLToPath(new URL('./refresh-gateway-child.ts', import.meta.url));
const SERVER_DIR = fileURLToPath(new URL('../../../', import.meta.url));

export interface ChildResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly events: Array<Record<string, unknown>>;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunningChild {
  readonly pid: number | undefined;
  /** Resolves with the first stdout event satisfying `predicate`. */
  waitFor(predicate: (event: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  signal(signal: NodeJS.Signals): void;
  readonly done: Promise<ChildResult>;
}

/** Starts a child gateway; `env` adds variables (e.g. the crash step). Killed after `timeoutMs`. */
export function startChild(config: ChildConfig, env: Record<string, string> = {}, timeoutMs = 60_000): RunningChild {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', CHILD_SCRIPT], {
    cwd: SERVER_DIR,
    env: { ...process.env, OPENSHELL_TEST_CHILD_CONFIG: JSON.stringify(config), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const events: Array<Record<string, unknown>> = [];
  const waiters: Array<{ predicate: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void }> = [];
  let pending = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
    pending += chunk.toString('utf8');
    let nl = pending.indexOf('\n');
    while (nl >= 0) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (line !== '') {
        try {
          const event = JSON.parse(line) as Record<string, unknown>;
          events.push(event);
          for (const w of [...waiters]) {
            if (w.predicate(event)) {
              waiters.splice(waiters.indexOf(w), 1);
              w.resolve(event);
            }
          }
        } catch {
          // not an event line
        }
      }
      nl = pending.indexOf('\n');
    }
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<ChildResult>((resolve) => {
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      // Let the pipes drain.
      setTimeout(() => resolve({ code, signal, events, stdout, stderr }), 50);
    });
  });
  return {
    pid: child.pid,
    done,
    signal: (s) => {
      child.kill(s);
    },
    waitFor(predicate, waitMs = 30_000) {
      const seen = events.find(predicate);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`child event not seen within ${waitMs} ms; stderr: ${stderr.slice(-2000)}`)), waitMs);
        waiters.push({
          predicate,
          resolve: (e) => {
            clearTimeout(timer);
            resolve(e);
          },
        });
      });
    },
  };
}

/** Runs a child to completion. */
export function runChild(config: ChildConfig, env: Record<string, string> = {}, timeoutMs = 60_000): Promise<ChildResult> {
  return startChild(config, env, timeoutMs).done;
}
