import { describe, expect, it } from 'vitest';
import { checkCredentialUrl, isLoopbackHostname, parseAbsoluteUrl } from './index.js';

describe('isLoopbackHostname', () => {
  it.each([
    ['localhost', true],
    ['LOCALHOST', true],
    ['127.0.0.1', true],
    ['127.255.255.254', true],
    ['[::1]', true],
    ['::1', true],
    ['[::ffff:7f00:1]', true],
    ['128.0.0.1', false],
    ['10.0.0.1', false],
    ['127.0.0.1.example.com', false],
    ['localhost.example.com', false],
    ['[::2]', false],
    ['[::ffff:a00:1]', false],
    ['', false],
  ])('%j → %s', (host, loopback) => {
    expect(isLoopbackHostname(host)).toBe(loopback);
  });

  it.each([
    ['http://127.1/', true],
    ['http://0x7f000001/', true],
    ['http://[::ffff:127.0.0.1]/', true],
    ['http://[0:0:0:0:0:0:0:1]/', true],
  ])('the parser-normalized host of %s is loopback: %s', (url, loopback) => {
    expect(isLoopbackHostname(parseAbsoluteUrl(url)!.hostname)).toBe(loopback);
  });
});

describe('checkCredentialUrl', () => {
  it.each([
    'https://platform.claude.com/v1/oauth/token',
    'https://auth.example.com:8443/token?x=1',
    'http://127.0.0.1:9000/token',
    'http://localhost/token',
    'http://[::1]:9000/token',
  ])('accepts %s', (url) => {
    expect(checkCredentialUrl('token URL', url)).toBeUndefined();
  });

  it.each([
    ['/oauth/token', "token URL '/oauth/token' must be an absolute https URL"],
    ['auth.example.com/token', "token URL 'auth.example.com/token' must be an absolute https URL"],
    ['http://auth.example.com/token', "token URL 'http://auth.example.com/token' must use https; plain http is allowed only for loopback hosts"],
    ['http://10.0.0.5/token', 'must use https; plain http is allowed only for loopback hosts'],
    ['ws://auth.example.com/token', "token URL 'ws://auth.example.com/token' must use https (got ws)"],
    ['https://auth.example.com/token#frag', "token URL 'https://auth.example.com/token#frag' must not have a #fragment"],
    ['https://me:pw@auth.example.com/token', 'token URL must not carry a user name or password in the URL'],
  ])('rejects %s', (url, message) => {
    expect(checkCredentialUrl('token URL', url)).toContain(message);
  });
});
