import { describe, expect, it } from 'vitest';
import {
  CoreError,
  KNOWN_PROVIDER_TYPES,
  normalizeProviderType,
  PROVIDER_TYPE_ALIASES,
  tryNormalizeProviderType,
} from './index.js';

describe('normalizeProviderType', () => {
  // Every alias, written as a user might type it.
  it.each([
    ['claude-plan', 'anthropic-oauth'],
    [' Claude-Plan ', 'anthropic-oauth'],
    ['anthropic_oauth', 'anthropic-oauth'],
    ['vertex', 'google-vertex-ai'],
    ['vertex-ai', 'google-vertex-ai'],
    ['google-vertex', 'google-vertex-ai'],
    ['gcp-vertex', 'google-vertex-ai'],
    ['claude', 'claude-code'],
    ['CLAUDE', 'claude-code'],
    ['claude_code', 'claude-code'],
    ['gcp', 'google-cloud'],
    ['glab', 'gitlab'],
    ['gh', 'github'],
    ['\tGH\n', 'github'],
  ])('maps %j to %s', (input, canonical) => {
    expect(normalizeProviderType(input)).toBe(canonical);
  });

  it('the table above covers every alias in PROVIDER_TYPE_ALIASES', () => {
    expect(Object.keys(PROVIDER_TYPE_ALIASES).sort()).toEqual(
      ['claude-plan', 'anthropic_oauth', 'vertex', 'vertex-ai', 'google-vertex', 'gcp-vertex', 'claude', 'claude_code', 'gcp', 'glab', 'gh'].sort(),
    );
  });

  it.each(Object.entries(PROVIDER_TYPE_ALIASES))('alias %s points at a known type (%s)', (_alias, canonical) => {
    expect(KNOWN_PROVIDER_TYPES).toContain(canonical);
  });

  it.each(KNOWN_PROVIDER_TYPES.map((t) => [t]))('canonical %s maps to itself, in any case', (type) => {
    expect(normalizeProviderType(type)).toBe(type);
    expect(normalizeProviderType(` ${type.toUpperCase()} `)).toBe(type);
  });

  it.each([['openrouter'], [''], ['   '], ['anthropic oauth']])('rejects %j with unsupported_provider_type', (input) => {
    let caught: unknown;
    try {
      normalizeProviderType(input);
    } catch (err) {
      caught = err;
    }
    expect(CoreError.isInstance(caught)).toBe(true);
    const err = caught as CoreError;
    expect(err.code).toBe('unsupported_provider_type');
    expect(err.message).toContain(`unsupported provider type '${input.trim()}'`);
    expect(err.message).toContain('Known types: openai, anthropic, anthropic-oauth,');
    expect(err.message).toContain('Aliases: claude-plan,');
  });

  it('accepts extra types (ids of admin profiles) and lists them when rejecting', () => {
    expect(normalizeProviderType(' Corp-Git ', ['corp-git'])).toBe('corp-git');
    expect(() => normalizeProviderType('other', ['corp-git'])).toThrow(/Known types: .*corp-git/);
  });

  it('tryNormalizeProviderType returns undefined instead of throwing', () => {
    expect(tryNormalizeProviderType('nope')).toBeUndefined();
    expect(tryNormalizeProviderType('claude-plan')).toBe('anthropic-oauth');
  });
});
