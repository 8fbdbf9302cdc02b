// docs/reference/errors.mdx must list every error code of every package, each in its component's
// section: a code added to a table (or thrown in the CLI/supervisor source) without a docs row fails here.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorCodesRaisedIn } from '@openshell/testing';
import { describe, expect, it } from 'vitest';
import { CORE_ERROR_CODES } from '../../packages/core/src/error-codes.js';
import { ROUTER_ERROR_CODES } from '../../packages/router/src/error-codes.js';
import { GATEWAY_ERROR_CODES } from '../../packages/server/src/error-codes.js';
import { REFRESH_ERROR_CODES } from '../../packages/server/src/refresh/refresh-error.js';
import { SUPERVISOR_ERROR_CODES } from '../../packages/supervisor/src/errors.js';
import { generatedBlock, renderErrorTables } from '../scripts/error-tables.js';
import { REPO_ROOT } from './harness/paths.js';

const PAGE = join(REPO_ROOT, 'docs', 'reference', 'errors.mdx');

/** `## Heading` → the codes listed as table rows (`| \`code\` |`) under it. */
async function documentedCodes(): Promise<Map<string, Set<string>>> {
  const text = await readFile(PAGE, 'utf8');
  const sections = new Map<string, Set<string>>();
  let current = '';
  for (const line of text.split('\n')) {
    const heading = /^## (.+)$/.exec(line);
    if (heading) {
      current = (heading[1] as string).trim();
      sections.set(current, new Set());
      continue;
    }
    const row = /^\| `([a-z_]+)` \|/.exec(line);
    if (row && current !== '') sections.get(current)?.add(row[1] as string);
  }
  return sections;
}

/** Members of a string-literal union type `export type NAME = | 'a' | 'b'` in a source file. */
async function unionMembers(file: string, typeName: string): Promise<string[]> {
  const text = (await readFile(join(REPO_ROOT, file), 'utf8')).replace(/\/\*[\s\S]*?\*\//g, '');
  const start = text.indexOf(`export type ${typeName} =`);
  if (start < 0) throw new Error(`${file}: type ${typeName} not found`);
  const body = text.slice(start, text.indexOf(';', start));
  return [...body.matchAll(/\|\s*'([a-z_]+)'/g)].map((m) => m[1] as string);
}

/** The supervisor's own refusals on inference.local (`RouteUnavailable['unavailable']`). */
async function unavailableReasons(): Promise<string[]> {
  const text = await readFile(join(REPO_ROOT, 'packages/supervisor/src/bundle-sync.ts'), 'utf8');
  const field = /readonly unavailable:\s*([^;]+);/.exec(text)?.[1] ?? '';
  return [...field.matchAll(/'([a-z_]+)'/g)].map((m) => m[1] as string);
}

/** Codes the CLI raises: `new CliError('code', …)` plus `usageError()` (code `usage`). */
function cliCodes(): string[] {
  return [...new Set(['usage', ...errorCodesRaisedIn(join(REPO_ROOT, 'packages', 'cli', 'src'), 'CliError')])];
}

describe('docs/reference/errors.mdx', () => {
  it('lists every code of every package in its section', async () => {
    const docs = await documentedCodes();
    const expected: Record<string, string[]> = {
      'Gateway API': Object.keys(GATEWAY_ERROR_CODES),
      'Credential refresh API': Object.keys(REFRESH_ERROR_CODES),
      'Sandbox boundary (router)': [
        ...Object.keys(ROUTER_ERROR_CODES),
        ...(await unavailableReasons()),
      ],
      Supervisor: Object.keys(SUPERVISOR_ERROR_CODES),
      CLI: cliCodes(),
      Core: Object.keys(CORE_ERROR_CODES),
      'Gateway store and keys': [
        ...(await unionMembers('packages/server/src/store/errors.ts', 'StoreErrorCode')),
        ...(await unionMembers('packages/server/src/crypto/crypto-error.ts', 'CryptoErrorCode')),
      ],
    };
    const missing: string[] = [];
    for (const [section, codes] of Object.entries(expected)) {
      expect(codes.length, `no codes found for ${section}`).toBeGreaterThan(0);
      const listed = docs.get(section);
      expect(listed, `section "## ${section}" is missing`).toBeDefined();
      for (const code of codes) if (!listed?.has(code)) missing.push(`${section}: ${code}`);
    }
    expect(missing, 'add a row for each (generated tables: npx tsx e2e/scripts/error-tables.ts --write)').toEqual([]);
  });

  it('lists every code raised anywhere in the packages (new XError(\'code\'))', async () => {
    const text = await readFile(PAGE, 'utf8');
    const raisers: [string, string][] = [
      ['packages/core/src', 'CoreError'],
      ['packages/router/src', 'RouterError'],
      ['packages/server/src', 'GatewayError'],
      ['packages/server/src', 'RefreshError'],
      ['packages/server/src', 'StoreError'],
      ['packages/server/src', 'CryptoError'],
      ['packages/supervisor/src', 'SupervisorError'],
      ['packages/cli/src', 'CliError'],
    ];
    const missing: string[] = [];
    for (const [dir, cls] of raisers) {
      for (const code of errorCodesRaisedIn(join(REPO_ROOT, dir), cls)) if (!text.includes(`| \`${code}\` |`)) missing.push(`${cls}: ${code}`);
    }
    expect(missing).toEqual([]);
  });

  it('has generated tables identical to the packages\' code tables (descriptions and fixes included)', async () => {
    const text = await readFile(PAGE, 'utf8');
    for (const [name, fresh] of Object.entries(renderErrorTables())) {
      expect(generatedBlock(text, name), `${name}: run \`npx tsx e2e/scripts/error-tables.ts --write\``).toBe(fresh);
    }
  });

  it('documents the HTTP status each table gives', async () => {
    const text = await readFile(PAGE, 'utf8');
    for (const [code, entry] of [...Object.entries(GATEWAY_ERROR_CODES), ...Object.entries(ROUTER_ERROR_CODES)]) {
      expect(text, code).toContain(`| \`${code}\` | ${entry.status} |`);
    }
  });
});
