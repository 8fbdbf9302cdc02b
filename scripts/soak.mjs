// The long soak (issue 10): `node scripts/soak.mjs [--seconds 600] [--rotate-every 3] [--clients 4]`.
// Mixed streaming / non-streaming traffic through a real supervisor and gateway with a real credential
// rotation every few seconds; prints a JSON report and exits 0 on PASS (0 failed requests, no
// descriptor growth, heap slope bounded), 1 on FAIL. CI runs the 30 s version (e2e/hostile/soak.hostile.test.ts).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsx = join(root, 'node_modules', '.bin', 'tsx');
if (!existsSync(tsx)) {
  process.stderr.write('soak: node_modules/.bin/tsx is missing; run `pnpm install` first\n');
  process.exit(2);
}
const result = spawnSync(tsx, ['--expose-gc', '--conditions=source', join(root, 'e2e', 'hostile', 'soak-cli.ts'), ...process.argv.slice(2)], {
  cwd: join(root, 'e2e'),
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
