import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../../..');
const hasNpm = spawnSync('npm', ['--version'], { encoding: 'utf8' }).status === 0;
if (!hasNpm) console.warn('[core] pack.integration.test.ts skipped: npm is not on PATH, so the packed tarball cannot be installed');

describe('packed @openshell/core', () => {
  // Builds, packs, installs into an empty project with npm, imports and type-checks (~20-40 s).
  it.skipIf(!hasNpm)(
    'installs alone with zod, imports from ESM with types, and pulls in nothing else',
    () => {
      const r = spawnSync(process.execPath, [join(ROOT, 'scripts/check-core-pack.mjs')], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 280_000,
      });
      const lines = r.stdout.split('\n').filter((l) => l.startsWith('ok') || l.startsWith('FAIL'));
      expect(lines.filter((l) => l.startsWith('FAIL')), `${r.stdout}\n${r.stderr}`).toEqual([]);
      expect(lines.length).toBeGreaterThanOrEqual(18);
      expect(r.stdout).toContain('npm installed nothing but @openshell/core and zod');
      expect(r.stdout).toContain('check-core-pack: all checks passed');
      expect(r.status).toBe(0);
    },
    300_000,
  );
});
