// The generated tables of docs/reference/errors.mdx, rendered from the packages' own error-code tables.
//   npx tsx e2e/scripts/error-tables.ts           print them
//   npx tsx e2e/scripts/error-tables.ts --write   rewrite them in place in docs/reference/errors.mdx
// e2e/src/docs-errors.test.ts fails when the page's generated blocks differ from what this renders.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CORE_ERROR_CODES } from '../../packages/core/src/error-codes.js';
import { ROUTER_ERROR_CODES } from '../../packages/router/src/error-codes.js';
import { GATEWAY_ERROR_CODES } from '../../packages/server/src/error-codes.js';
import { REFRESH_ERROR_CODES } from '../../packages/server/src/refresh/refresh-error.js';

export const ERRORS_PAGE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'reference', 'errors.mdx');

/** A table cell that MDX reads as text: pipes escaped, and `<`/`{` outside inline code escaped (MDX would read JSX). */
const cell = (s: string) =>
  s
    .replace(/\n/g, ' ')
    .split('`')
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/</g, '&lt;').replace(/\{/g, '\\{').replace(/\}/g, '\\}')))
    .join('`')
    .replace(/\|/g, '\\|');

type Rows = Record<string, { status?: number; description?: string; fix: string }>;

function table(name: string, rows: Rows, withStatus: boolean): string {
  const head = withStatus ? '| code | HTTP | meaning | how to fix |\n|---|---|---|---|' : '| code | meaning | how to fix |\n|---|---|---|';
  const lines = Object.entries(rows).map(([code, e]) =>
    withStatus
      ? `| \`${code}\` | ${e.status ?? ''} | ${cell(e.description ?? '')} | ${cell(e.fix)} |`
      : `| \`${code}\` | ${cell(e.description ?? '')} | ${cell(e.fix)} |`,
  );
  return `{/* generated from ${name} */}\n${head}\n${lines.join('\n')}`;
}

/** Every generated block, by table name. */
export function renderErrorTables(): Record<string, string> {
  return {
    GATEWAY_ERROR_CODES: table('GATEWAY_ERROR_CODES', GATEWAY_ERROR_CODES, true),
    REFRESH_ERROR_CODES: table('REFRESH_ERROR_CODES', REFRESH_ERROR_CODES, true),
    ROUTER_ERROR_CODES: table('ROUTER_ERROR_CODES', ROUTER_ERROR_CODES, true),
    CORE_ERROR_CODES: table('CORE_ERROR_CODES', CORE_ERROR_CODES, false),
  };
}

/** The page's generated block of `name` (marker line plus the table lines after it), or undefined. */
export function generatedBlock(page: string, name: string): string | undefined {
  const start = page.indexOf(`{/* generated from ${name} */}`);
  if (start < 0) return undefined;
  const lines = page.slice(start).split('\n');
  const end = lines.findIndex((l, i) => i > 0 && !l.startsWith('|'));
  return lines.slice(0, end < 0 ? lines.length : end).join('\n');
}

/** The page with every generated block replaced by a fresh rendering. */
export function updateErrorsPage(page: string): string {
  let out = page;
  for (const [name, fresh] of Object.entries(renderErrorTables())) {
    const current = generatedBlock(out, name);
    if (current === undefined) throw new Error(`${ERRORS_PAGE}: no {/* generated from ${name} */} block`);
    out = out.replace(current, fresh);
  }
  return out;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes('--write')) writeFileSync(ERRORS_PAGE, updateErrorsPage(readFileSync(ERRORS_PAGE, 'utf8')));
  else process.stdout.write(`${Object.values(renderErrorTables()).join('\n\n')}\n`);
}
