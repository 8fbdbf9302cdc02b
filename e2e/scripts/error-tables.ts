// Prints the Markdown tables of docs/reference/errors.mdx from the packages' error-code tables
// (run from the repo root: `npx tsx e2e/scripts/error-tables.ts`). e2e/src/docs-errors.test.ts checks
// that the page lists every code, so a new code without a docs row fails the suite.
import { CORE_ERROR_CODES } from '../../packages/core/src/error-codes.js';
import { ROUTER_ERROR_CODES } from '../../packages/router/src/error-codes.js';
import { GATEWAY_ERROR_CODES } from '../../packages/server/src/error-codes.js';
import { REFRESH_ERROR_CODES } from '../../packages/server/src/refresh/refresh-error.js';

/** A table cell that MDX reads as text: pipes escaped, and `<`/`{` outside inline code escaped (MDX would read JSX). */
const cell = (s: string) =>
  s
    .replace(/\n/g, ' ')
    .split('`')
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/</g, '&lt;').replace(/\{/g, '\\{').replace(/\}/g, '\\}')))
    .join('`')
    .replace(/\|/g, '\\|');

function table(title: string, rows: Record<string, { status?: number; description?: string; fix: string }>, withStatus: boolean): string {
  const head = withStatus ? '| code | HTTP | meaning | how to fix |\n|---|---|---|---|' : '| code | meaning | how to fix |\n|---|---|---|';
  const lines = Object.entries(rows).map(([code, e]) =>
    withStatus
      ? `| \`${code}\` | ${e.status ?? ''} | ${cell(e.description ?? '')} | ${cell(e.fix)} |`
      : `| \`${code}\` | ${cell(e.description ?? '')} | ${cell(e.fix)} |`,
  );
  return `{/* generated from ${title} */}\n${head}\n${lines.join('\n')}\n`;
}

process.stdout.write(`${table('GATEWAY_ERROR_CODES', GATEWAY_ERROR_CODES, true)}\n`);
process.stdout.write(`${table('REFRESH_ERROR_CODES', REFRESH_ERROR_CODES, true)}\n`);
process.stdout.write(`${table('ROUTER_ERROR_CODES', ROUTER_ERROR_CODES, true)}\n`);
process.stdout.write(`${table('CORE_ERROR_CODES', CORE_ERROR_CODES, false)}\n`);
