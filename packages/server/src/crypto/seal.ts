import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { CryptoError } from './crypto-error.js';
import { KEK_BYTES } from './kek.js';

const VERSION = 'v1';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const SALT = Buffer.from('openshell-gateway', 'utf8');

/** Seals and opens secret values under one key-encryption key. */
export interface Sealer {
  /** AES-256-GCM seal of `plaintext`, authenticated together with `aad` (the row/field it belongs to). */
  seal(plaintext: string, aad: string): string;
  /** Opens a value from `seal`; throws `unseal_failed` when the key, the ciphertext or `aad` differ. */
  open(sealed: string, aad: string): string;
  /** A key check value (hex HMAC of a constant under a derived key): safe to store, reveals nothing. */
  readonly checkValue: string;
  /** True when `value` equals this key's check value (constant time). */
  matchesCheckValue(value: string): boolean;
}

function derive(kek: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', kek, SALT, Buffer.from(info, 'utf8'), 32));
}

/** Creates a `Sealer` for a 32-byte key-encryption key (separate derived keys for sealing and check). */
export function createSealer(kek: Buffer): Sealer {
  if (kek.length !== KEK_BYTES) {
    throw new CryptoError('invalid_kek', `the key-encryption key must be ${KEK_BYTES} bytes, got ${kek.length}`);
  }
  const dataKey = derive(kek, 'openshell:seal:v1');
  const checkValue = createHmac('sha256', derive(kek, 'openshell:key-check:v1')).update('openshell key check value v1').digest('hex');

  return {
    checkValue,
    seal(plaintext, aad) {
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', dataKey, nonce);
      cipher.setAAD(Buffer.from(aad, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return `${VERSION}.${Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64url')}`;
    },
    open(sealed, aad) {
      const dot = sealed.indexOf('.');
      if (dot < 0 || sealed.slice(0, dot) !== VERSION) {
        throw new CryptoError('unseal_failed', 'sealed value has an unknown format version');
      }
      const raw = Buffer.from(sealed.slice(dot + 1), 'base64url');
      if (raw.length < NONCE_BYTES + TAG_BYTES) throw new CryptoError('unseal_failed', 'sealed value is truncated');
      try {
        const decipher = createDecipheriv('aes-256-gcm', dataKey, raw.subarray(0, NONCE_BYTES));
        decipher.setAAD(Buffer.from(aad, 'utf8'));
        decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
        return Buffer.concat([decipher.update(raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('utf8');
      } catch (cause) {
        throw new CryptoError('unseal_failed', 'sealed value failed authentication (wrong key, tampered, or not stored for this record)', { cause });
      }
    },
    matchesCheckValue(value) {
      const a = Buffer.from(value, 'utf8');
      const b = Buffer.from(checkValue, 'utf8');
      return a.length === b.length && timingSafeEqual(a, b);
    },
  };
}
