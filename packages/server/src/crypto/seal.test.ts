import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CryptoError } from './crypto-error.js';
import { createSealer } from './seal.js';

function unsealError(fn: () => unknown): CryptoError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CryptoError);
    return error as CryptoError;
  }
  throw new Error('expected unseal to fail');
}

describe('createSealer', () => {
  const kek = randomBytes(32);
  const sealer = createSealer(kek);

  it('round-trips a value bound to its AAD, with a fresh nonce each time', () => {
    const a = sealer.seal('sk-ant-oat01-secret', 'row:1:credentials');
    const b = sealer.seal('sk-ant-oat01-secret', 'row:1:credentials');
    expect(a).not.toBe(b);
    expect(a.startsWith('v1.')).toBe(true);
    expect(a).not.toContain('secret');
    expect(sealer.open(a, 'row:1:credentials')).toBe('sk-ant-oat01-secret');
    expect(sealer.open(b, 'row:1:credentials')).toBe('sk-ant-oat01-secret');
    expect(sealer.open(sealer.seal('', 'x'), 'x')).toBe('');
  });

  it.each([
    ['another row (AAD)', (s: string) => sealer.open(s, 'row:2:credentials')],
    ['another key', (s: string) => createSealer(randomBytes(32)).open(s, 'row:1:credentials')],
    ['a flipped ciphertext byte', (s: string) => sealer.open(flip(s, 20), 'row:1:credentials')],
    ['a truncated value', (s: string) => sealer.open(s.slice(0, 12), 'row:1:credentials')],
    ['an unknown version', (s: string) => sealer.open(`v9${s.slice(2)}`, 'row:1:credentials')],
  ])('refuses to open with %s', (_, open) => {
    const sealed = sealer.seal('the-secret-value', 'row:1:credentials');
    const error = unsealError(() => open(sealed));
    expect(error.code).toBe('unseal_failed');
    expect(error.message).not.toContain('the-secret-value');
  });

  it('derives a stable key check value that differs per key and reveals neither key', () => {
    expect(createSealer(Buffer.from(kek)).checkValue).toBe(sealer.checkValue);
    expect(sealer.checkValue).toMatch(/^[0-9a-f]{64}$/);
    expect(sealer.checkValue).not.toContain(kek.toString('hex'));
    const other = createSealer(randomBytes(32));
    expect(other.checkValue).not.toBe(sealer.checkValue);
    expect(sealer.matchesCheckValue(sealer.checkValue)).toBe(true);
    expect(sealer.matchesCheckValue(other.checkValue)).toBe(false);
    expect(sealer.matchesCheckValue('')).toBe(false);
  });

  it('rejects a key that is not 32 bytes', () => {
    expect(() => createSealer(randomBytes(16))).toThrow(/32 bytes/);
  });
});

function flip(sealed: string, index: number): string {
  const raw = Buffer.from(sealed.slice(3), 'base64url');
  raw[index % raw.length] = (raw[index % raw.length] ?? 0) ^ 0x01;
  return `v1.${raw.toString('base64url')}`;
}
