import { describe, expect, it } from 'vitest';
import { CliError } from './cli-error.js';
import { parseConfigArgs, parseCredentialArgs, resolveCredentialValues } from './credential-args.js';

function errorOf(fn: () => unknown): CliError {
  try {
    fn();
  } catch (e) {
    if (CliError.isInstance(e)) return e;
  }
  throw new Error('expected a CliError');
}

describe('parseCredentialArgs', () => {
  it('splits at the first = and keeps the value verbatim', () => {
    expect(parseCredentialArgs(['A=b=c', ' KEY ', 'E='])).toEqual([{ key: 'A', inlineValue: 'b=c' }, { key: 'KEY' }, { key: 'E', inlineValue: '' }]);
  });
  it('rejects empty, invalid and duplicate keys as usage errors', () => {
    expect(errorOf(() => parseCredentialArgs(['=x'])).exitCode).toBe(2);
    expect(errorOf(() => parseCredentialArgs(['1A'])).message).toContain('not a valid variable name');
    expect(errorOf(() => parseCredentialArgs(['A', 'A=x'])).message).toContain('more than once');
  });
});

describe('parseConfigArgs', () => {
  it('parses KEY=VALUE with later duplicates winning', () => {
    expect(parseConfigArgs(['U=http://a', 'U=http://b', 'X=1'])).toEqual({ U: 'http://b', X: '1' });
  });
  it('requires KEY=VALUE', () => {
    expect(errorOf(() => parseConfigArgs(['U'])).message).toContain("--config expects KEY=VALUE, got 'U'");
  });
});

describe('resolveCredentialValues', () => {
  it('reads a bare key from the environment, else one key from stdin, and reports inline keys', async () => {
    const asked: string[] = [];
    const r = await resolveCredentialValues(parseCredentialArgs(['A', 'B=inline', 'C']), { A: 'from-env' }, async (k) => {
      asked.push(k);
      return 'from-stdin';
    });
    expect(r.values).toEqual({ A: 'from-env', B: 'inline', C: 'from-stdin' });
    expect(r.inline).toEqual(['B']);
    expect(asked).toEqual(['C']);
  });
  it('refuses two keys that would both need stdin', async () => {
    await expect(resolveCredentialValues(parseCredentialArgs(['A', 'B']), {}, async () => 'x')).rejects.toThrow(/stdin can supply only one value/);
  });
  it('fails when neither the environment nor stdin has a value', async () => {
    await expect(resolveCredentialValues(parseCredentialArgs(['A']), { A: '  ' }, async () => '')).rejects.toThrow(/no value in the environment variable A nor on stdin/);
  });
});
