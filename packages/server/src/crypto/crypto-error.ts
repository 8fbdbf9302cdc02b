import { OpenShellError } from '@openshell/core';

/** Stable codes of the gateway's key handling and sealing. */
export type CryptoErrorCode =
  /** The key-encryption key is missing, unreadable or not 32 bytes of base64. */
  | 'invalid_kek'
  /** A sealed value failed authentication (wrong key, tampered, or moved to another row). */
  | 'unseal_failed';

/** An error raised by the gateway's crypto (never carries key material or plaintext). */
export class CryptoError extends OpenShellError<CryptoErrorCode> {
  constructor(code: CryptoErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, options);
    this.name = 'CryptoError';
  }
}
