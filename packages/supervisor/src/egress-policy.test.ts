import { describe, expect, it } from 'vitest';
import { decideEgress, isInferenceHost, parseAbsoluteTarget, parseConnectTarget, parseHostHeader } from './egress-policy.js';

describe('parseConnectTarget', () => {
  it.each([
    ['inference.local:443', { host: 'inference.local', port: 443 }],
    ['API.Anthropic.com.:443', { host: 'api.anthropic.com', port: 443 }],
    ['[::1]:8443', { host: '::1', port: 8443 }],
    ['127.0.0.2:80', { host: '127.0.0.2', port: 80 }],
  ])('parses %s', (target, expected) => {
    expect(parseConnectTarget(target)).toEqual(expected);
  });

  it.each(['inference.local', 'host:0', 'host:65536', 'user@host:443', 'http://host:443', 'host:44x', ':443', 'a b:443'])(
    'refuses %s',
    (target) => {
      expect(parseConnectTarget(target)).toBeUndefined();
    },
  );
});

describe('parseAbsoluteTarget', () => {
  it('keeps the query string and defaults the port by scheme', () => {
    expect(parseAbsoluteTarget('http://inference.local/v1/messages?beta=true')).toEqual({
      scheme: 'http',
      host: 'inference.local',
      port: 80,
      path: '/v1/messages?beta=true',
    });
    expect(parseAbsoluteTarget('https://x.invalid:8443/')?.port).toBe(8443);
  });

  it('refuses origin-form targets and URLs with credentials', () => {
    expect(parseAbsoluteTarget('/v1/messages')).toBeUndefined();
    expect(parseAbsoluteTarget('http://user:pw@inference.local/')).toBeUndefined();
    expect(parseAbsoluteTarget('ftp://inference.local/')).toBeUndefined();
  });
});

describe('parseHostHeader / isInferenceHost', () => {
  it('reads name and port', () => {
    expect(parseHostHeader('inference.local', 443)).toEqual({ host: 'inference.local', port: 443 });
    expect(parseHostHeader('Inference.Local:80', 443)).toEqual({ host: 'inference.local', port: 80 });
    expect(parseHostHeader('evil.invalid/inference.local', 443)).toBeUndefined();
    expect(parseHostHeader(undefined, 443)).toBeUndefined();
  });

  it('matches only inference.local', () => {
    expect(isInferenceHost('INFERENCE.LOCAL.')).toBe(true);
    expect(isInferenceHost('inference.local.invalid')).toBe(false);
    expect(isInferenceHost('xinference.local')).toBe(false);
  });
});

describe('decideEgress', () => {
  const rules = [
    { host: 'api.anthropic.com', port: 443 },
    { host: '*.example.invalid', port: 443 },
  ];

  it.each([
    [{ host: 'api.anthropic.com', port: 443 }, true],
    [{ host: 'api.anthropic.com', port: 80 }, false],
    [{ host: 'api.anthropic.com.evil.invalid', port: 443 }, false],
    [{ host: 'a.example.invalid', port: 443 }, true],
    [{ host: 'example.invalid', port: 443 }, false],
    [{ host: '127.0.0.2', port: 443 }, false],
  ])('%o → %s', (dest, allowed) => {
    expect(decideEgress(dest, rules).allowed).toBe(allowed);
  });

  it('says why a destination was refused', () => {
    const d = decideEgress({ host: '127.0.0.2', port: 443 }, rules);
    expect(d).toEqual({ allowed: false, reason: expect.stringContaining('127.0.0.2:443 is not in') });
    const p = decideEgress({ host: 'api.anthropic.com', port: 80 }, rules);
    expect(p.allowed === false && p.reason).toContain('port 80');
  });
});
