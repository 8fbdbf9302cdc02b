import { describe, expect, it } from 'vitest';
import { accessTokenExpiresAt, backoffDelayMs, DEFAULT_REFRESH_BEFORE_SECONDS, nextRefreshAt } from './retry-policy.js';

const policy = { baseMs: 10_000, capMs: 600_000 };

describe('backoffDelayMs', () => {
  it.each([
    [1, 0, 5_000],
    [1, 0.999999, 9_999],
    [2, 0, 10_000],
    [3, 0.5, 30_000],
    [10, 0, 300_000],
    [10, 1, 600_000],
    [1000, 0.5, 450_000],
  ])('failure %i with random %f waits %i ms', (n, r, expected) => {
    expect(backoffDelayMs(n, policy, () => r)).toBe(expected);
  });

  it('grows with consecutive failures and never exceeds the cap', () => {
    let previousCeiling = 0;
    for (let n = 1; n <= 40; n++) {
      const high = backoffDelayMs(n, policy, () => 0.999999);
      const low = backoffDelayMs(n, policy, () => 0);
      expect(high).toBeLessThanOrEqual(policy.capMs);
      expect(low).toBeGreaterThanOrEqual(Math.floor(high / 2) - 1);
      expect(high).toBeGreaterThanOrEqual(previousCeiling);
      previousCeiling = high;
    }
  });

  it('treats a count below 1 as the first failure', () => {
    expect(backoffDelayMs(0, policy, () => 0)).toBe(5_000);
  });
});

describe('nextRefreshAt', () => {
  it('is expiry minus refresh_before', () => {
    expect(nextRefreshAt(1_000_000, 60)).toBe(940_000);
  });
  it('defaults refresh_before to 5 minutes', () => {
    expect(nextRefreshAt(10_000_000, undefined)).toBe(10_000_000 - DEFAULT_REFRESH_BEFORE_SECONDS * 1000);
    expect(nextRefreshAt(10_000_000, 0)).toBe(10_000_000 - DEFAULT_REFRESH_BEFORE_SECONDS * 1000);
  });
  it('is due at once when the expiry is unknown', () => {
    expect(nextRefreshAt(undefined, 300)).toBe(0);
    expect(nextRefreshAt(0, 300)).toBe(0);
  });
});

describe('accessTokenExpiresAt', () => {
  it('uses expires_in as given, with no silent one-hour cap', () => {
    expect(accessTokenExpiresAt(1000, 28_800, undefined)).toBe(1000 + 28_800_000);
  });
  it('caps only with max_lifetime_seconds', () => {
    expect(accessTokenExpiresAt(0, 28_800, 3600)).toBe(3_600_000);
    expect(accessTokenExpiresAt(0, 600, 3600)).toBe(600_000);
  });
  it('falls back to the cap, or unknown, without expires_in', () => {
    expect(accessTokenExpiresAt(0, undefined, 3600)).toBe(3_600_000);
    expect(accessTokenExpiresAt(0, undefined, undefined)).toBeUndefined();
  });
});
