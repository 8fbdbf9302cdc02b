// Builds what the suite runs as real processes — the `openshell` CLI and everything it depends on
// (core with its generated catalogue, router, server, supervisor), and @openshell/testing's dist (used
// by the demo) — with the packages' own build scripts through turbo (cached when nothing changed).
// In CI a failed build fails the run; on a developer machine (a teammate's half-edited tree) it warns
// and runs against the existing dist.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';

export default function setup(): void {
  const started = Date.now();
  const turbo = join(REPO_ROOT, 'node_modules', '.bin', 'turbo');
  try {
    execFileSync(turbo, ['run', 'build', '--filter=@openshell/cli...', '--filter=@openshell/testing', '--output-logs=errors-only'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 2, 2],
      env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
    });
  } catch (err) {
    const dists = ['packages/cli/dist', 'packages/server/dist', 'packages/supervisor/dist', 'testing/dist'].map((d) => join(REPO_ROOT, d));
    if (process.env.CI || !dists.every((d) => existsSync(d))) throw err;
    process.stderr.write('[e2e globalSetup] WARNING: the build failed; running against the existing (possibly stale) dist\n');
  }
  process.stderr.write(`[e2e globalSetup] build (turbo: cli and its dependencies, testing) done in ${Date.now() - started} ms\n`);
}
