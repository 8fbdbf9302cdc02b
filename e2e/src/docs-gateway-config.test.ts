// docs/reference/gateway-config.mdx must name every flag of `openshell-gateway` (its --help text) and
// of `openshell gateway start`, and every OPENSHELL_* environment variable the gateway or the CLI reads.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../packages/cli/src/program.js';
import { GATEWAY_HELP } from '../../packages/server/src/bin-args.js';
import { REPO_ROOT } from './harness/paths.js';

async function page(): Promise<string> {
  return readFile(join(REPO_ROOT, 'docs', 'reference', 'gateway-config.mdx'), 'utf8');
}

async function openshellVariables(dir: string): Promise<Set<string>> {
  const names = new Set<string>();
  for (const entry of await readdir(join(REPO_ROOT, dir), { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    if (!entry.isFile() || !path.endsWith('.ts') || path.includes('.test.') || path.includes('testing-fixtures')) continue;
    for (const m of (await readFile(path, 'utf8')).matchAll(/\bOPENSHELL_[A-Z_]+\b/g)) names.add(m[0]);
  }
  return names;
}

describe('docs/reference/gateway-config.mdx', () => {
  it('documents every flag of openshell-gateway and of openshell gateway start', async () => {
    const text = await page();
    const binFlags = [...GATEWAY_HELP.matchAll(/^\s+(?:-[a-z], )?(--[a-z-]+)/gm)].map((m) => m[1] as string);
    expect(binFlags.length).toBeGreaterThan(8);
    const start = (buildProgram('0').commands.find((c) => c.name() === 'gateway') as Command).commands.find((c) => c.name() === 'start') as Command;
    const cliFlags = start.options.map((o) => o.long).filter((f): f is string => f !== undefined);
    const missing = [...new Set([...binFlags, ...cliFlags])].filter((f) => !text.includes(`\`${f}`));
    expect(missing).toEqual([]);
  });

  it('documents every OPENSHELL_* variable the gateway and the CLI read', async () => {
    const text = await page();
    const helpVars = [...GATEWAY_HELP.matchAll(/^\s+(OPENSHELL_[A-Z_]+)/gm)].map((m) => m[1] as string);
    expect(helpVars.length).toBeGreaterThan(0);
    const used = new Set([...helpVars, ...(await openshellVariables('packages/server/src')), ...(await openshellVariables('packages/cli/src'))]);
    const missing = [...used].filter((v) => !v.startsWith('OPENSHELL_TEST') && !text.includes(`\`${v}\``));
    expect(missing).toEqual([]);
  });
});
