// The soak in CI: 30 s (OPENSHELL_SOAK_SECONDS to change) of mixed streaming / non-streaming traffic
// through a real supervisor with a real rotation every 3 s. The long run is `node scripts/soak.mjs`.
import { describe, expect, it } from 'vitest';
import { runSoak } from './soak.js';

const SECONDS = Number(process.env.OPENSHELL_SOAK_SECONDS ?? 30);

describe('soak', () => {
  it(`${SECONDS} s of mixed traffic with rotations: 0 failed requests, no descriptor growth, memory slope reported`, async () => {
    const report = await runSoak({ seconds: SECONDS, rotateEverySeconds: 3, clients: 4, log: (l) => console.log(l) });
    console.log(`[hostile] soak: ${JSON.stringify(report)}`);
    expect(report.failures).toEqual([]);
    expect(report.requests).toBeGreaterThan(SECONDS * 5);
    expect(report.streaming).toBeGreaterThan(0);
    expect(report.nonStreaming).toBeGreaterThan(0);
    expect(report.rotations).toBeGreaterThanOrEqual(Math.floor(SECONDS / 3) - 2);
    expect(report.rotationFailures).toBe(0);
    if (report.fds.start >= 0) expect(report.fds.end - report.fds.start).toBeLessThanOrEqual(8);
    expect(Number.isFinite(report.memory.slopeMBPerMinute)).toBe(true);
    expect(report.verdict).toBe('PASS');
  }, (SECONDS + 90) * 1000);
});
