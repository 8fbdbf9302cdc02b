// Builds what the suite runs as real processes: the `openshell` CLI (with core, router, server and
// supervisor through project references) and @openshell/testing's dist (used by the demo). `tsc -b`
// is incremental, so a fresh dist costs well under a second.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';

export default function setup(): void {
  const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const started = Date.now();
  for (const dir of ['packages/cli', 'testing']) {
    execFileSync(process.execPath, [tsc, '-b'], { cwd: join(REPO_ROOT, dir), stdio: 'inherit' });
  }
  process.stderr.write(`[e2e globalSetup] tsc -b (cli and its references, testing) done in ${Date.now() - started} ms\n`);
}
