// Unit tests of the bench's own measuring code: statistics, the load generator's HTTP framing, and
// the verdicts (a smoke run must fail on errors, lost events or a second token call).
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { rawRequest, responseReader } from './load.mjs';
import { checkResults, targets } from './report.mjs';
import { median, percentile, spread } from './stats.mjs';

describe('stats', () => {
  it('median, nearest-rank percentile and spread', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99)).toBe(10);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50)).toBe(5);
    expect(spread([90, 100, 110])).toBeCloseTo(0.2);
    expect(Number.isNaN(median([]))).toBe(true);
  });
});

describe('load generator framing', () => {
  it('reads content-length responses split anywhere, back to back', () => {
    const socket = new PassThrough();
    const seen: number[] = [];
    responseReader(socket, (status: number) => seen.push(status));
    const one = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello';
    const two = 'HTTP/1.1 401 Unauthorized\r\ncontent-length: 2\r\n\r\nno';
    const all = Buffer.from(one + two);
    for (const cut of [3, 20, 37, 40, all.length]) {
      seen.length = 0;
      const s = new PassThrough();
      responseReader(s, (status: number) => seen.push(status));
      s.write(all.subarray(0, cut));
      s.write(all.subarray(cut));
      expect(seen).toEqual([200, 401]);
    }
    socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
    expect(seen).toEqual([200, 401]);
    socket.write('0\r\n\r\n');
    expect(seen.at(-1)).toBe(200);
  });

  it('builds the request once with its content-length', () => {
    const req = rawRequest({ path: '/v1/messages', host: 'inference.local', headers: { 'x-a': '1' }, body: 'abc' }).toString('latin1');
    expect(req).toBe('POST /v1/messages HTTP/1.1\r\nhost: inference.local\r\nx-a: 1\r\ncontent-length: 3\r\n\r\nabc');
  });
});

describe('verdicts', () => {
  const ok = {
    scenarios: {
      stampede: { reports: 3, rounds: 1, tokenCallsPerRound: [1], answered: [3], rotatedAnswers: [3], allAnsweredMs: { median: 1 } },
      scale: { streams: 2, opened: 2, completed: 2, errors: 0, rssPerStreamKiB: 20, upstream: { badAuth: 0 } },
    },
  };
  it('passes a clean run and fails on a second token call or a lost stream', () => {
    expect(checkResults(ok)).toEqual([]);
    const twoCalls = structuredClone(ok);
    twoCalls.scenarios.stampede.tokenCallsPerRound = [2];
    expect(checkResults(twoCalls)).toEqual(['stampede round 1: 2 token-endpoint calls (must be 1)']);
    const lost = structuredClone(ok);
    lost.scenarios.scale.completed = 1;
    expect(checkResults(lost)[0]).toMatch(/^scale: 1\/2 streams completed/);
  });
  it('judges targets against their thresholds', () => {
    const t = targets(ok);
    expect(t.find((x) => x.target.startsWith('Stampede'))?.met).toBe(true);
    expect(t.find((x) => x.target.includes('RSS per stream'))?.met).toBe(true);
    const heavy = structuredClone(ok);
    heavy.scenarios.scale.rssPerStreamKiB = 41;
    expect(targets(heavy).find((x) => x.target.includes('RSS per stream'))?.met).toBe(false);
  });
});
