import { Secret } from '@openshell/core';
import { describe, expect, it } from 'vitest';
import { captureStream, createLogger } from './logger.js';
import { SecretRegistry } from './secret-registry.js';

describe('SecretRegistry', () => {
  it('scrubs raw and JSON-escaped occurrences, longest first', () => {
    const r = new SecretRegistry();
    r.register('abcdefgh12345678');
    r.register(new Secret('abcdefgh12345678-and-more'));
    r.register('with"quote\\and-slash');
    expect(r.scrub('x abcdefgh12345678-and-more y abcdefgh12345678 z')).toBe('x [REDACTED] y [REDACTED] z');
    expect(r.scrub(JSON.stringify({ m: 'with"quote\\and-slash' }))).toBe('{"m":"[REDACTED]"}');
  });

  it('ignores blank and very short values and is bounded', () => {
    const r = new SecretRegistry({ capacity: 4 });
    r.register('');
    r.register('short');
    expect(r.size).toBe(0);
    for (let i = 0; i < 10; i++) r.register(`secret-value-number-${i}`);
    expect(r.size).toBe(4);
    expect(r.scrub('secret-value-number-9')).toBe('[REDACTED]');
    expect(r.scrub('secret-value-number-0')).toBe('secret-value-number-0');
  });

  it('treats regex metacharacters literally', () => {
    const r = new SecretRegistry();
    r.register('a.b*c+d?(e)[f]');
    expect(r.scrub('aXbbbcdde a.b*c+d?(e)[f]')).toBe('aXbbbcdde [REDACTED]');
  });
});

describe('gateway logger', () => {
  it('redacts secret-bearing paths and scrubs registered values from every line', () => {
    const registry = new SecretRegistry();
    const stream = captureStream();
    const log = createLogger({ registry, stream, level: 'trace' });
    registry.register('sk-live-secret-value-42');
    log.info(
      {
        req: { headers: { authorization: 'Bearer osa_abc', 'x-api-key': 'k-1' } },
        credentials: { A: 'one' },
        provider: { credentials: { B: 'two' } },
        refresh_token: 'rt',
        body: { auth: { value: 'v' } },
        note: 'ok',
      },
      'free text sk-live-secret-value-42',
    );
    const [line] = stream.lines();
    const parsed = JSON.parse(line as string);
    expect(parsed.req.headers).toEqual({ authorization: '[REDACTED]', 'x-api-key': '[REDACTED]' });
    expect(parsed.credentials.A).toBe('[REDACTED]');
    expect(parsed.provider.credentials.B).toBe('[REDACTED]');
    expect(parsed.refresh_token).toBe('[REDACTED]');
    expect(parsed.body.auth.value).toBe('[REDACTED]');
    expect(parsed.note).toBe('ok');
    expect(parsed.msg).toBe('free text [REDACTED]');
  });
});
