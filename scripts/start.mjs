// `npm start`: set up a fresh clone and run the gateway in the foreground on its embedded default
// (SQLite under $XDG_DATA_HOME/openshell/gateway). Extra arguments go to `openshell gateway start`.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { prepareWorkspace, root } from './workspace.mjs';

prepareWorkspace();
const child = spawn(process.execPath, [join(root, 'packages/cli/bin/openshell.js'), 'gateway', 'start', ...process.argv.slice(2)], {
  stdio: 'inherit',
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
