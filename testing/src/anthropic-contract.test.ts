import { describe, expect, it } from 'vitest';
import {
  AGENT_SDK_IDENTITY,
  anthropicError,
  CLAUDE_CODE_IDENTITY,
  claudeCodeSystemPrompt,
  errorTypeForStatus,
  hasClaudeCodeIdentity,
  isHaikuModel,
} from './anthropic-contract.js';

describe('anthropic contract helpers', () => {
  const cases: Array<[string, unknown, boolean]> = [
    ['undefined', undefined, false],
    ['empty string', '', false],
    ['old identity string', CLAUDE_CODE_IDENTITY, true],
    ['old identity in first block', [{ type: 'text', text: `${CLAUDE_CODE_IDENTITY}\nrest` }], true],
    ['old identity in second block only', [{ type: 'text', text: 'x' }, { type: 'text', text: CLAUDE_CODE_IDENTITY }], false],
    ['billing + agent sdk', claudeCodeSystemPrompt(), true],
    ['billing + old identity', [{ type: 'text', text: 'x-anthropic-billing-header: a' }, { type: 'text', text: CLAUDE_CODE_IDENTITY }], true],
    ['agent sdk without billing', [{ type: 'text', text: AGENT_SDK_IDENTITY }], false],
    ['billing alone', [{ type: 'text', text: 'x-anthropic-billing-header: a' }], false],
    ['non-text blocks', [{ type: 'image' }, 42], false],
  ];
  for (const [name, system, expected] of cases) {
    it(`hasClaudeCodeIdentity: ${name} → ${expected}`, () => {
      expect(hasClaudeCodeIdentity(system)).toBe(expected);
    });
  }

  it('maps statuses to the real error types and builds the error shape', () => {
    expect([400, 401, 403, 404, 429, 500, 529].map(errorTypeForStatus)).toEqual([
      'invalid_request_error',
      'authentication_error',
      'permission_error',
      'not_found_error',
      'rate_limit_error',
      'api_error',
      'overloaded_error',
    ]);
    expect(anthropicError('x', 'y')).toEqual({ type: 'error', error: { type: 'x', message: 'y' } });
  });

  it('recognises Haiku models', () => {
    expect(isHaikuModel('claude-haiku-4-5-20251001')).toBe(true);
    expect(isHaikuModel('claude-sonnet-4-6')).toBe(false);
  });
});
