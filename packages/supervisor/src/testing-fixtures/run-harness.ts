// Runs one command under the supervisor with the standard harness in a separate process (for
// checks that need another user id), and prints `RESULT <json>` with the outcome and the logs.
import type { IsolationMode } from '../isolation.js';
import { startHarness } from './harness.js';

const [isolation, ...command] = process.argv.slice(2);
const h = await startHarness({ isolation: isolation as Exclude<IsolationMode, 'auto'> });
try {
  const res = await h.run(command);
  process.stdout.write(`RESULT ${JSON.stringify({ exitCode: res.exitCode, stdout: res.stdout, stderr: res.stderr, logs: h.logs.join(''), upstream: h.api.requests.length })}\n`);
} finally {
  await h.close();
}
