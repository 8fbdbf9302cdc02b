import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { snapshotCommandLines, watchCommandLines } from './command-lines.js';

const onLinux = process.platform === 'linux';

describe.skipIf(!onLinux)('command lines', () => {
  it('a snapshot includes this very process, NULs turned into spaces', async () => {
    const seen = new Set<string>();
    await snapshotCommandLines(seen);
    expect([...seen].some((line) => line.startsWith(process.execPath) || line.includes('vitest'))).toBe(true);
    expect([...seen].every((line) => !line.includes('\0'))).toBe(true);
  });

  it('a watch sees a short-lived child started after it began', async () => {
    const marker = `command-lines-marker-${process.pid}`;
    const watch = watchCommandLines({ intervalMs: 5 });
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 400)', marker], { stdio: 'ignore' });
    await new Promise((resolve) => child.on('exit', resolve));
    const lines = await watch.stop();
    expect(lines.some((line) => line.includes(marker))).toBe(true);
  });

  it('stops by itself at maxMs', async () => {
    const watch = watchCommandLines({ intervalMs: 5, maxMs: 30 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await watch.stop()).length).toBeGreaterThan(0);
  });
});
