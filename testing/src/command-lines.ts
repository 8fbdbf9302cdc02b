import { readdir, readFile } from 'node:fs/promises';

/** Adds every process's command line on this machine (Linux `/proc`, NULs as spaces) to `into`. */
export async function snapshotCommandLines(into: Set<string>): Promise<void> {
  let pids: string[];
  try {
    pids = (await readdir('/proc')).filter((p) => /^\d+$/.test(p));
  } catch {
    return; // no /proc (not Linux): nothing to sample
  }
  await Promise.all(
    pids.map(async (pid) => {
      try {
        const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
        if (raw !== '') into.add(raw.replace(/\0/g, ' ').trim());
      } catch {
        // the process exited meanwhile
      }
    }),
  );
}

/** A running sampler of command lines; `stop()` ends it and returns what it saw. */
export interface CommandLineWatch {
  stop(): Promise<string[]>;
}

/**
 * Samples every process's command line every `intervalMs` until `stop()` or `maxMs` (bounded either
 * way), so a test can prove no secret sat in any process's argv while something ran.
 */
export function watchCommandLines(options: { intervalMs?: number; maxMs?: number } = {}): CommandLineWatch {
  const intervalMs = options.intervalMs ?? 15;
  const deadline = Date.now() + (options.maxMs ?? 60_000);
  const seen = new Set<string>();
  let running = true;
  const sampler = (async () => {
    while (running && Date.now() < deadline) {
      await snapshotCommandLines(seen);
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await sampler;
      return [...seen];
    },
  };
}
