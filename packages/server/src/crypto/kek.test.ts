import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CryptoError } from './crypto-error.js';
import { KEK_ENV, loadKek, parseKek } from './kek.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'openshell-kek-'));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('loadKek', () => {
  it('creates a 0600 key file in the data dir at first start and reads the same key afterwards', () => {
    const dataDir = join(tempDir(), 'data', 'gateway');
    const first = loadKek({ dataDir, env: {} });
    expect(first.source).toBe('generated');
    expect(first.kek).toHaveLength(32);
    expect(first.path).toBe(join(dataDir, 'kek'));
    expect((statSync(join(dataDir, 'kek')).mode & 0o777).toString(8)).toBe('600');
    expect((statSync(dataDir).mode & 0o777).toString(8)).toBe('700');
    expect(readFileSync(join(dataDir, 'kek'), 'utf8').trim()).toBe(first.kek.toString('base64'));
    const second = loadKek({ dataDir, env: {} });
    expect(second.source).toBe('data-dir');
    expect(second.kek.equals(first.kek)).toBe(true);
  });

  it('prefers OPENSHELL_KEK, then --kek-file, over the data dir', () => {
    const dataDir = tempDir();
    const envKey = randomBytes(32);
    const fileKey = randomBytes(32);
    const file = join(tempDir(), 'shared.kek');
    writeFileSync(file, `${fileKey.toString('base64')}\n`);
    const fromEnv = loadKek({ dataDir, kekFile: file, env: { [KEK_ENV]: envKey.toString('base64') } });
    expect(fromEnv.source).toBe('env');
    expect(fromEnv.kek.equals(envKey)).toBe(true);
    const fromFile = loadKek({ dataDir, kekFile: file, env: { [KEK_ENV]: '  ' } });
    expect(fromFile).toMatchObject({ source: 'kek-file', path: file });
    expect(fromFile.kek.equals(fileKey)).toBe(true);
  });

  it('accepts a key file holding 32 raw bytes', () => {
    const key = randomBytes(32);
    const file = join(tempDir(), 'raw.kek');
    writeFileSync(file, key);
    expect(loadKek({ dataDir: tempDir(), kekFile: file, env: {} }).kek.equals(key)).toBe(true);
  });

  it('says how to fix a missing key file or a malformed key, without echoing it', () => {
    const missing = join(tempDir(), 'nope.kek');
    expect(() => loadKek({ dataDir: tempDir(), kekFile: missing, env: {} })).toThrow(/cannot read --kek-file .*ENOENT/);
    const short = randomBytes(16).toString('base64');
    let caught: unknown;
    try {
      loadKek({ dataDir: tempDir(), env: { [KEK_ENV]: short } });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CryptoError);
    expect((caught as CryptoError).code).toBe('invalid_kek');
    expect((caught as Error).message).toMatch(/OPENSHELL_KEK .*base64 of exactly 32 bytes.*openssl rand -base64 32/);
    expect((caught as Error).message).not.toContain(short);
  });
});

describe('parseKek', () => {
  const key = randomBytes(32);
  it.each([
    ['standard base64', key.toString('base64')],
    ['base64url', key.toString('base64url')],
    ['with whitespace', `\n  ${key.toString('base64')}  \n`],
  ])('parses %s', (_, text) => {
    expect(parseKek(text, 'test').equals(key)).toBe(true);
  });
  it.each([['empty', ''], ['not base64', 'not a key!'], ['33 bytes', randomBytes(33).toString('base64')]])('rejects %s', (_, text) => {
    expect(() => parseKek(text, 'test')).toThrow(CryptoError);
  });
});
