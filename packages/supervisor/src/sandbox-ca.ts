import 'reflect-metadata';
// @peculiar/x509 resolves its algorithm providers through tsyringe, which needs the Reflect metadata API.
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
const crypto = webcrypto;
const KEY_ALGORITHM: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING_ALGORITHM: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const HOUR_MS = 3_600_000;
/** Bound on cached leaf certificates; the supervisor only ever needs a handful. */
const MAX_CACHED_LEAVES = 64;

/** A leaf certificate and its key, both PEM, ready for `tls.createSecureContext`. */
export interface LeafCertificate {
  /** Leaf then CA, PEM. */
  readonly certChainPem: string;
  /** PKCS#8 PEM of the leaf key (held in memory only). */
  readonly keyPem: string;
}

/** A per-sandbox certificate authority: its certificate is public, its key never leaves memory. */
export interface SandboxCa {
  /** The CA certificate, PEM: the only thing written for the child (trust anchor). */
  readonly certPem: string;
  /** A leaf certificate for `host`, signed by this CA; cached per host. */
  leafFor(host: string): Promise<LeafCertificate>;
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // positive
  return Buffer.from(bytes).toString('hex');
}

/**
 * Creates the per-sandbox CA at start (ECDSA P-256). The CA key is a non-extractable WebCrypto key
 * held only by this object; leaf keys are exported to PEM in memory for Node's TLS and never written.
 */
export async function createSandboxCa(options: { commonName?: string; now?: Date } = {}): Promise<SandboxCa> {
  const now = options.now ?? new Date();
  const caKeys = (await crypto.subtle.generateKey(KEY_ALGORITHM, false, ['sign', 'verify'])) as CryptoKeyPair;
  const caName = `CN=${options.commonName ?? 'OpenShell Sandbox CA'}, O=OpenShell`;
  const caCert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerial(),
      name: caName,
      notBefore: new Date(now.getTime() - HOUR_MS),
      notAfter: new Date(now.getTime() + 365 * 24 * HOUR_MS),
      signingAlgorithm: SIGNING_ALGORITHM,
      keys: caKeys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  const certPem = caCert.toString('pem');
  const cache = new Map<string, Promise<LeafCertificate>>();

  async function issue(host: string): Promise<LeafCertificate> {
    const leafKeys = (await crypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
    const issued = new Date();
    const leaf = await x509.X509CertificateGenerator.create(
      {
        serialNumber: randomSerial(),
        subject: `CN=${host}`,
        issuer: caCert.subject,
        notBefore: new Date(issued.getTime() - HOUR_MS),
        // Below the 398-day limit some TLS clients enforce on leaf certificates.
        notAfter: new Date(issued.getTime() + 90 * 24 * HOUR_MS),
        signingAlgorithm: SIGNING_ALGORITHM,
        publicKey: leafKeys.publicKey,
        signingKey: caKeys.privateKey,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
          new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: host }], false),
          await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey, false, crypto),
        ],
      },
      crypto,
    );
    return { certChainPem: `${leaf.toString('pem')}\n${certPem}\n`, keyPem: await exportKeyPem(leafKeys.privateKey) };
  }

  return {
    certPem,
    leafFor(rawHost: string): Promise<LeafCertificate> {
      const host = rawHost.toLowerCase();
      let leaf = cache.get(host);
      if (leaf === undefined) {
        if (cache.size >= MAX_CACHED_LEAVES) cache.clear();
        leaf = issue(host);
        cache.set(host, leaf);
        leaf.catch(() => cache.delete(host));
      }
      return leaf;
    },
  };
}
