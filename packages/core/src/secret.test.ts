import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REDACTED_PLACEHOLDER, Secret } from './index.js';

const VALUE = 'sk-ant-oat01-test-value';

describe('Secret', () => {
  const secret = new Secret(VALUE);

  it.each([
    ['String()', () => String(secret)],
    ['template literal', () => `${secret}`],
    ['concatenation', () => 'x' + secret],
    ['JSON.stringify of the value', () => JSON.stringify(secret)],
    ['JSON.stringify inside an object', () => JSON.stringify({ token: secret, nested: [secret] })],
    ['util.inspect', () => inspect(secret)],
    ['util.inspect inside an object', () => inspect({ a: { b: secret } }, { depth: 5 })],
    ['Object.prototype.toString', () => Object.prototype.toString.call(secret)],
    ['Object.keys', () => Object.keys(secret).join(',')],
  ])('%s does not reveal the value', (_name, render) => {
    const out = render();
    expect(out).not.toContain(VALUE);
    expect(out).not.toContain('oat01');
  });

  it.each([
    ['String()', () => String(secret), REDACTED_PLACEHOLDER],
    ['JSON.stringify', () => JSON.stringify({ token: secret }), '{"token":"[REDACTED]"}'],
    ['util.inspect', () => inspect(secret), 'Secret([REDACTED])'],
  ])('%s prints the placeholder', (_name, render, expected) => {
    expect(render()).toBe(expected);
  });

  it('reveal() returns the wrapped value', () => {
    expect(secret.reveal()).toBe(VALUE);
  });

  it.each([
    ['', true],
    ['  \t', true],
    ['x', false],
  ])('isBlank(%j) is %s', (value, blank) => {
    expect(new Secret(value).isBlank()).toBe(blank);
  });

  it.each([
    [VALUE, true],
    [new Secret(VALUE), true],
    [VALUE + 'x', false],
    [VALUE.slice(0, -1), false],
    ['', false],
  ])('equals(%s) is %s', (other, same) => {
    expect(secret.equals(other)).toBe(same);
  });

  it('Secret.from keeps an existing Secret and wraps a string', () => {
    expect(Secret.from(secret)).toBe(secret);
    expect(Secret.from('abc').reveal()).toBe('abc');
  });

  it('isSecret recognizes the brand, not the shape', () => {
    expect(Secret.isSecret(secret)).toBe(true);
    expect(Secret.isSecret({ reveal: () => 'x' })).toBe(false);
    expect(Secret.isSecret('x')).toBe(false);
    expect(Secret.isSecret(null)).toBe(false);
  });
});
