import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fingerprintSecret, hashToken, tokenHashEquals } from './fingerprint.js';

describe('fingerprintSecret', () => {
  it('is 12 hex chars, stable, and tells values apart', () => {
    const a = fingerprintSecret('sk-ant-oat01-aaaa');
    expect(a).toMatch(/^[0-9a-f]{12}$/);
    expect(fingerprintSecret('sk-ant-oat01-aaaa')).toBe(a);
    expect(fingerprintSecret('sk-ant-oat01-aaab')).not.toBe(a);
  });

  it('is domain-separated from a plain SHA-256 and from token hashes', () => {
    const value = 'sk-ant-oat01-aaaa';
    expect(createHash('sha256').update(value).digest('hex').startsWith(fingerprintSecret(value))).toBe(false);
    expect(hashToken(value).startsWith(fingerprintSecret(value))).toBe(false);
  });
});

describe('hashToken', () => {
  it('hashes to 64 hex chars and compares in constant time', () => {
    const h = hashToken('oss_token');
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(h).not.toContain('oss_token');
    expect(tokenHashEquals(h, hashToken('oss_token'))).toBe(true);
    expect(tokenHashEquals(h, hashToken('oss_other'))).toBe(false);
    expect(tokenHashEquals(h, h.slice(1))).toBe(false);
  });
});
