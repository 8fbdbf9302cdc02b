import { describe, expect, it } from 'vitest';
import { createProxyAuth } from './proxy-auth.js';

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

describe('createProxyAuth', () => {
  const auth = createProxyAuth('0123456789abcdef0123456789abcdef');

  it('puts the nonce in the proxy URL that clients turn into Proxy-Authorization', () => {
    const url = new URL(auth.proxyUrl('127.0.0.1', 3128));
    expect(url.username).toBe('sandbox');
    expect(url.password).toBe('0123456789abcdef0123456789abcdef');
    expect(auth.check(basic(decodeURIComponent(url.username), decodeURIComponent(url.password)))).toBe(true);
  });

  it.each([
    ['missing', undefined],
    ['wrong nonce', basic('sandbox', 'ffffffffffffffffffffffffffffffff')],
    ['wrong user', basic('admin', '0123456789abcdef0123456789abcdef')],
    ['prefix of the nonce', basic('sandbox', '0123456789abcdef')],
    ['bearer scheme', 'Bearer 0123456789abcdef0123456789abcdef'],
    ['no colon', `Basic ${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`],
    ['repeated header', [basic('sandbox', '0123456789abcdef0123456789abcdef'), basic('sandbox', 'x')]],
  ])('refuses %s', (_name, header) => {
    expect(auth.check(header)).toBe(false);
  });

  it('accepts the scheme case-insensitively and checks relay nonces', () => {
    expect(auth.check(basic('sandbox', '0123456789abcdef0123456789abcdef').replace('Basic', 'basic'))).toBe(true);
    expect(auth.checkNonce('0123456789abcdef0123456789abcdef')).toBe(true);
    expect(auth.checkNonce('0123456789abcdef0123456789abcdee')).toBe(false);
  });

  it('makes a different 128-bit nonce per run', () => {
    const a = new URL(createProxyAuth().proxyUrl('127.0.0.1', 1)).password;
    const b = new URL(createProxyAuth().proxyUrl('127.0.0.1', 1)).password;
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(a).not.toBe(b);
  });
});
