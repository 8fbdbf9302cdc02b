import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CoreError } from '../index.js';
import { parseProviderProfileYaml, parseProviderProfileYamlFiles, validateProviderProfileYamlFiles } from './index.js';

const PROVIDERS_DIR = join(import.meta.dirname, '../../../../providers');

const VALID = `id: example
display_name: Example
category: inference
credentials:
  - name: api_key
    env_vars: [EXAMPLE_API_KEY]
endpoints:
  - host: api.example.com
    port: 443
`;

describe('parseProviderProfileYaml', () => {
  it('parses a valid profile and applies defaults', () => {
    const profile = parseProviderProfileYaml(VALID, 'example.yaml');
    expect(profile.id).toBe('example');
    expect(profile.credentials[0]).toEqual({ name: 'api_key', env_vars: ['EXAMPLE_API_KEY'], required: false, injectable: true });
    expect(profile.endpoints).toEqual([{ host: 'api.example.com', port: 443 }]);
  });

  it.each(readdirSync(PROVIDERS_DIR).filter((f) => f.endsWith('.yaml')))('the built-in %s is valid', (file) => {
    const profile = parseProviderProfileYaml(readFileSync(join(PROVIDERS_DIR, file), 'utf8'), file);
    expect(`${profile.id}.yaml`).toBe(file);
  });

  it('throws invalid_profile naming file, line, path and fix', () => {
    const text = VALID.replace('port: 443', 'port: 0');
    expect(() => parseProviderProfileYaml(text, 'custom/example.yaml')).toThrow(
      expect.objectContaining({
        code: 'invalid_profile',
        message: expect.stringContaining('custom/example.yaml:9: endpoints[0].port: port must be between 1 and 65535'),
      }),
    );
  });
});

describe('validateProviderProfileYamlFiles', () => {
  // [case, text, expected line, expected path, expected message fragment]
  it.each([
    ['a YAML syntax error', 'id: x\ndisplay_name: [unclosed\n', 3, '(root)', 'YAML syntax error'],
    ['a duplicate key', 'id: x\nid: y\ndisplay_name: X\n', 2, '(root)', 'YAML syntax error: Map keys must be unique'],
    ['two documents', `${VALID}---\n${VALID}`, 10, '(root)', 'file holds 2 YAML documents; put one provider profile per file'],
    ['an empty file', '# only a comment\n', undefined, '(root)', 'file holds no YAML document'],
    ['a list instead of a mapping', '- id: x\n', undefined, '(root)', 'a provider profile must be a mapping of fields'],
    ['YAML 1.1 booleans (no is a string)', VALID.replace('    env_vars:', '    injectable: no\n    env_vars:'), 6, 'credentials[0].injectable', "injectable must be true or false, got the string 'no'"],
    ['a missing field (line of the enclosing mapping)', VALID.replace('    port: 443\n', ''), 8, 'endpoints[0].port', 'port is required'],
    ['an unknown field', VALID.replace('category: inference', 'categroy: inference'), 3, 'categroy', "unknown field 'categroy'"],
  ])('reports %s with file, line and path', (_name, text, line, path, message) => {
    const { profiles, problems } = validateProviderProfileYamlFiles([{ name: 'p.yaml', text }]);
    expect(profiles).toEqual([]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ source: 'p.yaml', path, ...(line === undefined ? {} : { line }) });
    expect(problems[0]!.message).toContain(message);
  });

  it('rejects duplicate ids across files, naming both files', () => {
    const { profiles, problems } = validateProviderProfileYamlFiles([
      { name: 'one.yaml', text: VALID },
      { name: 'two.yaml', text: VALID },
    ]);
    expect(profiles.map((p) => p.id)).toEqual(['example']);
    expect(problems).toEqual([
      expect.objectContaining({ source: 'two.yaml', path: 'id', line: 1, message: expect.stringContaining("duplicate provider profile id 'example' (also defined in one.yaml)") }),
    ]);
  });

  it('collects the problems of every file before throwing', () => {
    let caught: unknown;
    try {
      parseProviderProfileYamlFiles([
        { name: 'a.yaml', text: 'id: A\ndisplay_name: A\n' },
        { name: 'b.yaml', text: 'id: b\n' },
        { name: 'c.yaml', text: VALID },
      ]);
    } catch (err) {
      caught = err;
    }
    expect(CoreError.isInstance(caught) && caught.code).toBe('invalid_profile');
    const problems = (caught as CoreError).details?.problems as Array<{ source: string; path: string }>;
    expect(problems.map((p) => `${p.source} ${p.path}`)).toEqual(['a.yaml id', 'b.yaml display_name']);
  });
});
