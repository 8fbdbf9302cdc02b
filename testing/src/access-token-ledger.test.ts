import { describe, expect, it } from 'vitest';
import { createAccessTokenLedger } from './access-token-ledger.js';

describe('createAccessTokenLedger', () => {
  it('tracks valid, expired, revoked and unknown tokens against its clock', () => {
    let now = 1000;
    const ledger = createAccessTokenLedger(() => now);
    ledger.allow('a', 2000);
    ledger.allow('forever');
    ledger.allow('b');
    expect(ledger.status('a')).toBe('valid');
    expect(ledger.status('nope')).toBe('unknown');
    now = 2000;
    expect(ledger.status('a')).toBe('expired');
    expect(ledger.status('forever')).toBe('valid');
    ledger.revoke('forever');
    expect(ledger.status('forever')).toBe('revoked');
    ledger.expire('b');
    expect(ledger.status('b')).toBe('expired');
    expect(ledger.validTokens()).toEqual([]);
    ledger.allow('b');
    expect(ledger.validTokens()).toEqual(['b']);
  });
});
