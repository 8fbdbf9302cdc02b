import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The repository root. */
export const REPO_ROOT = resolve(here, '..', '..', '..');
/** The e2e package directory. */
export const E2E_DIR = join(REPO_ROOT, 'e2e');
/** The built `openshell` bin (imports packages/cli/dist). */
export const CLI_BIN = join(REPO_ROOT, 'packages', 'cli', 'bin', 'openshell.js');
/** Sandbox client fixtures (plain Node ESM; they resolve @anthropic-ai/sdk from e2e/node_modules). */
export const FIXTURES_DIR = join(E2E_DIR, 'fixtures');
