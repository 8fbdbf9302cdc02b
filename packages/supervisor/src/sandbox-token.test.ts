import { closeSync, openSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Secret } from '@openshell/core';
import { describe, expect, it } from 'vitest';
import { readTokenFromFd, scrubTokenFromEnv } from './sandbox-token.js';

describe('readTokenFromFd', () => {
  // The pipe path (the way `openshell sandbox run` hands the token over) is exercised end to end in bin.test.ts.
  it('reads a token from a file descriptor', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'osh-tok-'));
    try {
      writeFileSync(join(dir, 't'), 'oss_file_token');
      const token = await readTokenFromFd(openSync(join(dir, 't'), 'r'));
      expect(String(token)).toBe('[REDACTED]');
      expect(token.reveal()).toBe('oss_file_token');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['empty', ''],
    ['two words', 'oss_a oss_b'],
  ])('refuses a descriptor carrying %s', async (_name, content) => {
    const dir = await mkdtemp(join(tmpdir(), 'osh-tok-'));
    try {
      writeFileSync(join(dir, 't'), content);
      await expect(readTokenFromFd(openSync(join(dir, 't'), 'r'))).rejects.toMatchObject({ code: 'token_missing' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fails with token_missing on a closed descriptor', async () => {
    const fd = openSync('/dev/null', 'r');
    closeSync(fd);
    await expect(readTokenFromFd(fd)).rejects.toMatchObject({ code: 'token_missing', message: expect.stringContaining(`descriptor ${fd}`) });
  });
});

describe('scrubTokenFromEnv', () => {
  it('removes the known variables and any variable holding the token value', () => {
    const env: NodeJS.ProcessEnv = { OPENSHELL_SANDBOX_TOKEN: 'x', OTHER: 'oss_tok', PATH: '/bin' };
    expect(scrubTokenFromEnv(env, new Secret('oss_tok'))).toEqual(['OPENSHELL_SANDBOX_TOKEN', 'OTHER']);
    expect(env).toEqual({ PATH: '/bin' });
  });
});
