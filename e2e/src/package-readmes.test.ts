// The embedding examples in packages/core/README.md and packages/router/README.md must keep working:
// every ```ts block is type-checked against the built packages (free names the prose leaves to the
// reader, like `text` or `currentRoute()`, are declared), and core's first example is run, with each
// `expression; // value` comment turned into an assertion.
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { E2E_DIR, REPO_ROOT } from './harness/paths.js';

const WORK = join(E2E_DIR, '.tmp', 'readme-check');

/** Names each README's examples use without defining them (the reader's own code). */
const PRELUDES: Record<string, string> = {
  core: 'declare const text: string;\n',
  router: [
    "import type { BundleRoute } from '@openshell/core';",
    "import type { IncomingMessage } from 'node:http';",
    'declare function fetchFreshRoute(name: string): Promise<BundleRoute>;',
    'declare function currentRoute(): BundleRoute;',
    'declare const req: IncomingMessage;',
    'declare const route: BundleRoute;',
    '',
  ].join('\n'),
};

async function tsBlocks(pkg: string): Promise<string[]> {
  const text = await readFile(join(REPO_ROOT, 'packages', pkg, 'README.md'), 'utf8');
  return [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string);
}

/** Moves `import` lines to the top (a prelude may precede them) and prefixes the prelude. */
function withPrelude(prelude: string, block: string): string {
  const lines = block.split('\n');
  const imports: string[] = [];
  const rest: string[] = [];
  let inImport = false;
  for (const line of lines) {
    if (inImport || line.startsWith('import ')) {
      imports.push(line);
      inImport = !/from '[^']+';\s*$/.test(line);
    } else rest.push(line);
  }
  return `${imports.join('\n')}\n${prelude}${rest.join('\n')}\nexport {};\n`;
}

/**
 * Turns statements that end in `; // <JS literal>` into `__expect(<statement>, <literal>)`, so the
 * README's stated results are checked. Statements may span lines.
 */
export function doctest(block: string): { code: string; checks: number } {
  const out: string[] = [];
  let pending: string[] = [];
  let checks = 0;
  for (const line of block.split('\n')) {
    const m = /^(.*?);\s*\/\/\s*(.+)$/.exec(line);
    const codePart = m ? m[1] : undefined;
    if (m && codePart !== undefined && codePart.trim() !== '' && !codePart.trimStart().startsWith('//')) {
      const statement = [...pending, codePart].join('\n');
      pending = [];
      let literal: string | undefined = (m[2] as string).trim();
      try {
        new Function(`return (${literal});`);
      } catch {
        literal = undefined;
      }
      if (literal !== undefined && !/^(const|let|import|await)\b/.test(statement.trim())) {
        out.push(`__expect(${statement}, (${literal}));`);
        checks++;
      } else out.push(`${statement};`);
      continue;
    }
    if (/;\s*$/.test(line) || line.trim() === '' || line.trim().startsWith('//') || line.startsWith('import ')) {
      out.push(...pending, line);
      pending = [];
    } else pending.push(line);
  }
  out.push(...pending);
  return { code: out.join('\n'), checks };
}

afterAll(async () => {
  await rm(WORK, { recursive: true, force: true });
});

describe('package READMEs', () => {
  it('every TypeScript example of core, router and server type-checks against the built packages', async () => {
    await rm(WORK, { recursive: true, force: true });
    await mkdir(WORK, { recursive: true });
    const files: string[] = [];
    for (const pkg of ['core', 'router', 'server']) {
      const blocks = await tsBlocks(pkg);
      expect(blocks.length, `${pkg}/README.md has no ts example`).toBeGreaterThan(0);
      for (const [i, block] of blocks.entries()) {
        const name = `${pkg}-${i}.ts`;
        await writeFile(join(WORK, name), withPrelude(PRELUDES[pkg] ?? '', block));
        files.push(name);
      }
    }
    await writeFile(
      join(WORK, 'tsconfig.json'),
      JSON.stringify({
        extends: '../../../tsconfig.base.json',
        compilerOptions: { noEmit: true, composite: false, declaration: false, declarationMap: false, incremental: false, noUnusedLocals: false },
        include: files,
      }),
    );
    let output = '';
    try {
      execFileSync(process.execPath, [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(WORK, 'tsconfig.json')], { encoding: 'utf8' });
    } catch (err) {
      output = `${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}`;
    }
    expect(output).toBe('');
  });

  it('doctest turns stated results into assertions, multi-line statements included', () => {
    const { code, checks } = doctest("f(1); // 2\ng(\n  3,\n); // { a: 'x' }\n// prose; // not code\nconst c = h(); // 4\ni(); // not a literal");
    expect(checks).toBe(2);
    expect(code).toContain('__expect(f(1), (2));');
    expect(code).toContain("__expect(g(\n  3,\n), ({ a: 'x' }));");
    expect(code).toContain('const c = h();');
    expect(code).toContain('i();');
  });

  it("core's first example runs and its stated results hold", async () => {
    const [first] = await tsBlocks('core');
    const { code, checks } = doctest(first as string);
    expect(checks).toBeGreaterThanOrEqual(4);
    await mkdir(WORK, { recursive: true });
    const file = join(WORK, 'core-run.ts');
    const assertions: { actual: unknown; expected: unknown }[] = [];
    (globalThis as { __expect?: unknown }).__expect = (actual: unknown, expected: unknown) => assertions.push({ actual, expected });
    await writeFile(file, `declare function __expect(a: unknown, b: unknown): void;\n${code}\nexport {};\n`);
    await import(/* @vite-ignore */ pathToFileURL(file).href);
    expect(assertions).toHaveLength(checks);
    for (const { actual, expected } of assertions) expect(actual).toEqual(expected);
  });
});
