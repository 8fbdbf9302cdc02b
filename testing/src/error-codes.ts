import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

function sourceFiles(dir: string, recursive: boolean): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return recursive && entry.name !== 'testing-fixtures' ? sourceFiles(path, true) : [];
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

/**
 * The codes a package's sources raise as `new <errorClass>('code'`, read from the non-test `.ts` files
 * of `dir` (and its subdirectories unless `recursive: false`; `testing-fixtures/` is skipped), for the
 * "every raised code is documented" test each package keeps beside its error table.
 */
export function errorCodesRaisedIn(dir: string, errorClass: string, options: { recursive?: boolean } = {}): Set<string> {
  const pattern = new RegExp(`new ${errorClass}\\(\\s*'([a-z_]+)'`, 'g');
  const raised = new Set<string>();
  for (const file of sourceFiles(dir, options.recursive ?? true)) {
    for (const match of readFileSync(file, 'utf8').matchAll(pattern)) raised.add(match[1] as string);
  }
  return raised;
}
