// Builds what the suite runs as real processes: the `openshell` CLI (with core, router, server and
// supervisor through project references) and @openshell/testing's dist (used by the demo). `tsc -b`
// is incremental, so a fresh dist costs little. In CI a failed build fails the run; on a developer
// machine (a teammate's half-edited tree) it warns and runs against the existing dist.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';

export default function setup(): void {
  const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const started = Date.now();
  for (const dir of ['packages/cli', 'testing']) {
    try {
      execFileSync(process.execPath, [tsc, '-b'], { cwd: join(REPO_ROOT, dir), stdio: 'inherit' });
    } catch (err) {
      const dist = join(REPO_ROOT, dir, 'dist');
      if (process.env.CI || !existsSync(dist)) throw err;
      process.stderr.write(`[e2e globalSetup] WARNING: tsc -b failed in ${dir}; running against the existing (possibly stale) dist\n`);
    }
  }
  process.stderr.write(`[e2e globalSetup] tsc -b (cli and its references, testing) done in ${Date.now() - started} ms\n`);
}
