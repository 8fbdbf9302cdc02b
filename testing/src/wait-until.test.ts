import { describe, expect, it } from 'vitest';
import { waitUntil } from './wait-until.js';

describe('waitUntil', () => {
  it('resolves as soon as the check holds', async () => {
    let calls = 0;
    await waitUntil(() => ++calls >= 3, 'three calls');
    expect(calls).toBe(3);
  });

  it('rejects naming what it waited for once its polls are spent', async () => {
    let calls = 0;
    await expect(
      waitUntil(
        () => {
          calls++;
          return false;
        },
        'the impossible',
        50,
      ),
    ).rejects.toThrow('timed out waiting for the impossible');
    expect(calls).toBe(6); // 5 polls of 10 ms, then one last look
  });
});
