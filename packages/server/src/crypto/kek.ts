import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, openSync, readFileSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { CryptoError } from './crypto-error.js';

/** Length of the key-encryption key in bytes (AES-256). */
export const KEK_BYTES = 32;

/** Environment variable holding the key-encryption key (base64 of 32 bytes). */
export const KEK_ENV = 'OPENSHELL_KEK';

/** File name of the generated key inside the gateway data dir. */
export const KEK_FILE_NAME = 'kek';

/** Where the key came from (for a start-up log line; never the key itself). */
export type KekSource = 'env' | 'kek-file' | 'data-dir' | 'generated';

/** A loaded key-encryption key. */
export interface LoadedKek {
  readonly kek: Buffer;
  readonly source: KekSource;
  /** The file it was read from or written to, when any. */
  readonly path?: string;
}

/** Options of `loadKek`, in priority order: `env[OPENSHELL_KEK]`, `kekFile`, `dataDir/kek`. */
export interface LoadKekOptions {
  readonly dataDir: string;
  readonly kekFile?: string;
  /** Defaults to `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Parses a key: base64 (standard or url-safe) of exactly 32 bytes, surrounding whitespace ignored;
 * a file may also hold the 32 raw bytes. `origin` names the source in the error message.
 */
export function parseKek(text: string | Buffer, origin: string): Buffer {
  if (Buffer.isBuffer(text) && text.length === KEK_BYTES) return Buffer.from(text);
  const s = (Buffer.isBuffer(text) ? text.toString('utf8') : text).trim();
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(s)) {
    const bytes = Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (bytes.length === KEK_BYTES) return bytes;
  }
  throw new CryptoError(
    'invalid_kek',
    `${origin} is not a valid key-encryption key: it must be base64 of exactly ${KEK_BYTES} bytes (generate one with \`openssl rand -base64 32\`)`,
  );
}

/**
 * Loads the key-encryption key: from `OPENSHELL_KEK`, else `kekFile` (must exist), else the data
 * dir's `kek` file, which is created (mode 0600, exclusive create, so two starts cannot race) when
 * absent.
 */
export function loadKek(options: LoadKekOptions): LoadedKek {
  const env = options.env ?? process.env;
  const fromEnv = env[KEK_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== '') return { kek: parseKek(fromEnv, KEK_ENV), source: 'env' };
  if (options.kekFile !== undefined) {
    return { kek: parseKek(readKeyFile(options.kekFile, '--kek-file'), `--kek-file ${options.kekFile}`), source: 'kek-file', path: options.kekFile };
  }
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const path = join(options.dataDir, KEK_FILE_NAME);
  let fd: number | undefined;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw keyFileError(path, 'create', error);
  }
  if (fd === undefined) return { kek: parseKek(readKeyFile(path, 'key file'), `key file ${path}`), source: 'data-dir', path };
  const kek = randomBytes(KEK_BYTES);
  try {
    writeSync(fd, `${kek.toString('base64')}\n`);
  } finally {
    closeSync(fd);
  }
  chmodSync(path, 0o600);
  return { kek, source: 'generated', path };
}

function readKeyFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw keyFileError(path, `read ${what}`, error);
  }
}

function keyFileError(path: string, action: string, cause: unknown): CryptoError {
  const code = (cause as NodeJS.ErrnoException).code ?? 'error';
  return new CryptoError('invalid_kek', `cannot ${action} ${path} (${code}): check the path and its permissions, or set ${KEK_ENV}`, { cause });
}
