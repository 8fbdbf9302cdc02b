// `npm test`: set up a fresh clone, build, and run the whole test suite (vitest, every workspace
// project). Extra arguments go to vitest, e.g. `npm test -- --project router`.
import { prepareWorkspace, pnpm } from './workspace.mjs';

prepareWorkspace();
if (!process.env.OPENSHELL_TEST_DATABASE_URL) {
  process.stderr.write(
    'openshell: OPENSHELL_TEST_DATABASE_URL is not set: the PostgreSQL store tests will be skipped (CI always sets it).\n',
  );
}
pnpm(['exec', 'vitest', 'run', ...process.argv.slice(2)]);
