import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtinCatalogue, type CoreError, KNOWN_PROVIDER_TYPES, PROVIDER_TYPE_ALIASES } from './index.js';
import { renderProviderTypeTable, TABLE_BEGIN, TABLE_END } from './testing-fixtures/provider-table.js';
import { parseProviderProfileYaml } from './yaml/index.js';

const DOC = join(import.meta.dirname, '../../../docs/sandboxes/manage-providers.mdx');

describe('docs/sandboxes/manage-providers.mdx', () => {
  const table = renderProviderTypeTable(builtinCatalogue());

  it('has the provider-type table exactly as the catalogue renders it', () => {
    const text = readFileSync(DOC, 'utf8');
    const begin = text.indexOf(TABLE_BEGIN);
    const end = text.indexOf(TABLE_END);
    expect(begin, 'the BEGIN marker is missing').toBeGreaterThanOrEqual(0);
    expect(end, 'the END marker is missing').toBeGreaterThan(begin);
    const current = text.slice(begin + TABLE_BEGIN.length, end).trim();
    if (current !== table && process.env.OPENSHELL_UPDATE_DOCS === '1') {
      writeFileSync(DOC, `${text.slice(0, begin + TABLE_BEGIN.length)}\n${table}\n${text.slice(end)}`);
      return;
    }
    expect(current).toBe(table);
  });

  it('the table lists every type and every alias', () => {
    for (const t of KNOWN_PROVIDER_TYPES) expect(table).toContain(`| \`${t}\` |`);
    for (const a of Object.keys(PROVIDER_TYPE_ALIASES)) expect(table).toContain(`\`${a}\``);
  });

  it.each([
    ['anthropic-oauth', '`ANTHROPIC_OAUTH_TOKEN` | no | oauth2_refresh_token (json) |'],
    ['github', '`GITHUB_TOKEN` / `GH_TOKEN` | yes | — |'],
    ['claude-code', '`ANTHROPIC_API_KEY` / `CLAUDE_API_KEY` | yes | — |'],
    ['openai', '`OPENAI_API_KEY` | no | — |'],
  ])('the %s row shows its keys, injectability and refresh', (type, cells) => {
    const row = table.split('\n').find((l) => l.startsWith(`| \`${type}\` |`));
    expect(row).toContain(cells);
  });
});

describe('the custom-profile example of manage-providers.mdx', () => {
  const text = readFileSync(DOC, 'utf8');
  const example = /```yaml\n([\s\S]*?)```/.exec(text)?.[1] ?? '';
  const shownError = /```\n(invalid_profile:[\s\S]*?)```/.exec(text)?.[1]?.trim() ?? '';

  it('is a valid profile', () => {
    expect(parseProviderProfileYaml(example, 'profiles/corp-git.yaml').id).toBe('corp-git');
  });

  it('produces exactly the error the page shows, once broken as the page describes', () => {
    const broken = example
      .replace('https://git.corp.example/oauth/token', 'http://git.corp.example/oauth/token')
      .replace('credentials: [token]', 'credentials: [tokn]');
    let caught: CoreError | undefined;
    try {
      parseProviderProfileYaml(broken, 'profiles/corp-git.yaml');
    } catch (err) {
      caught = err as CoreError;
    }
    expect(shownError).not.toBe('');
    expect(`${caught?.code}: ${caught?.message}`).toBe(shownError);
  });
});
