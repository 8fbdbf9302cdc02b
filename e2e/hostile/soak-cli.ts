// Entry point of `node scripts/soak.mjs [--seconds N] [--rotate-every S] [--clients C]` (run by tsx with
// the `source` condition). Prints progress, then the report as JSON; exit 0 on PASS, 1 on FAIL.
import { parseArgs } from 'node:util';
import { runSoak } from './soak.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '600' },
    'rotate-every': { type: 'string', default: '3' },
    clients: { type: 'string', default: '4' },
  },
});
const seconds = Number(values.seconds);
if (!Number.isFinite(seconds) || seconds < 5 || seconds > 24 * 3600) {
  process.stderr.write('soak: --seconds must be a number between 5 and 86400\n');
  process.exit(2);
}
process.stderr.write(`[soak] ${seconds} s, a rotation every ${values['rotate-every']} s, ${values.clients} clients${(globalThis as { gc?: unknown }).gc ? '' : ' (no --expose-gc: heap figures include garbage)'}\n`);
const report = await runSoak({
  seconds,
  rotateEverySeconds: Number(values['rotate-every']),
  clients: Number(values.clients),
  log: (line) => process.stderr.write(`${line}\n`),
});
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
process.stderr.write(`[soak] ${report.verdict}: ${report.requests} requests (${report.streaming} streaming), ${report.failed} failed, ${report.rotations} rotations, fds ${report.fds.start} → ${report.fds.end}, heap slope ${report.memory.slopeMBPerMinute} MB/min\n`);
process.exit(report.pass ? 0 : 1);
