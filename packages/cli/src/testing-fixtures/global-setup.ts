// Builds the CLI (and, through project references, core, server and supervisor) once before the tests:
// the integration tests run the real `bin/openshell.js`, which imports dist/.
import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const started = Date.now();
  execFileSync(process.execPath, [join(pkg, '..', '..', 'node_modules', 'typescript', 'bin', 'tsc'), '-b'], { cwd: pkg, stdio: 'inherit' });
  process.stderr.write(`[cli globalSetup] tsc -b done in ${Date.now() - started} ms\n`);
}
