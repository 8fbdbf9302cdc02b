// Relative links in the docs (docs/**/*.mdx, architecture/*.md, README.md, packages/*/README.md) must
// point at files that exist, so a moved or renamed page cannot leave dead links behind.
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './harness/paths.js';

async function pages(): Promise<string[]> {
  const out = [join(REPO_ROOT, 'README.md'), join(REPO_ROOT, 'e2e', 'README.md')];
  for (const entry of await readdir(join(REPO_ROOT, 'docs'), { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && /\.mdx?$/.test(entry.name)) out.push(join(entry.parentPath, entry.name));
  }
  for (const name of await readdir(join(REPO_ROOT, 'architecture'))) if (name.endsWith('.md')) out.push(join(REPO_ROOT, 'architecture', name));
  for (const pkg of await readdir(join(REPO_ROOT, 'packages'))) out.push(join(REPO_ROOT, 'packages', pkg, 'README.md'));
  return out.filter((p) => existsSync(p));
}

/** Link targets outside code blocks and inline code. */
export function relativeLinks(markdown: string): string[] {
  const prose = markdown.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)]
    .map((m) => m[1] as string)
    .filter((target) => !/^(?:[a-z]+:|#)/i.test(target));
}

describe('links in the docs', () => {
  it('finds links, and ignores code and external targets', () => {
    expect(relativeLinks('see [a](../b.mdx#x) and [web](https://x.y) `[c](d.md)` [top](#here)\n```\n[e](f.md)\n```')).toEqual(['../b.mdx#x']);
  });

  it('every relative link points at an existing file or directory', async () => {
    const dead: string[] = [];
    let checked = 0;
    for (const page of await pages()) {
      for (const target of relativeLinks(await readFile(page, 'utf8'))) {
        const path = decodeURIComponent(target.split('#')[0] as string);
        if (path === '') continue;
        checked++;
        if (!existsSync(resolve(dirname(page), path))) dead.push(`${relative(REPO_ROOT, page)} → ${target}`);
      }
    }
    expect(dead).toEqual([]);
    expect(checked).toBeGreaterThan(5);
  });
});
