import { describe, expect, it } from 'vitest';
import { normalizeProviderType } from './index.js';

describe('workspace wiring', () => {
  it('runs core from source', () => {
    expect(normalizeProviderType(' Claude-Plan ')).toBe('anthropic-oauth');
  });
});
