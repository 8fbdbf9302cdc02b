import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { createSandboxCa } from './sandbox-ca.js';

describe('createSandboxCa', () => {
  it('issues a leaf for inference.local that verifies against the CA and only the CA', async () => {
    const ca = await createSandboxCa();
    const leaf = await ca.leafFor('inference.local');
    const caCert = new X509Certificate(ca.certPem);
    const leafCert = new X509Certificate(leaf.certChainPem);
    expect(caCert.ca).toBe(true);
    expect(leafCert.ca).toBe(false);
    expect(leafCert.checkHost('inference.local')).toBe('inference.local');
    expect(leafCert.checkHost('api.anthropic.com')).toBeUndefined();
    expect(leafCert.verify(caCert.publicKey)).toBe(true);
    const other = await createSandboxCa();
    expect(leafCert.verify(new X509Certificate(other.certPem).publicKey)).toBe(false);
  });

  it('caches leaves per host (case-insensitively)', async () => {
    const ca = await createSandboxCa();
    const a = await ca.leafFor('inference.local');
    const b = await ca.leafFor('INFERENCE.local');
    expect(b).toBe(a);
    const c = await ca.leafFor('other.local');
    expect(c.certChainPem).not.toBe(a.certChainPem);
  });

  it('never exposes the CA key: the CA PEM holds a certificate only', async () => {
    const ca = await createSandboxCa();
    expect(ca.certPem).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(ca.certPem).not.toMatch(/PRIVATE KEY/);
    expect(JSON.stringify(ca)).not.toMatch(/PRIVATE KEY/);
  });

  it('completes a real TLS handshake that a client trusting only the CA accepts', async () => {
    const ca = await createSandboxCa();
    const leaf = await ca.leafFor('inference.local');
    const server = tls.createServer({ cert: leaf.certChainPem, key: leaf.keyPem }, (s) => s.end('ok'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    try {
      const socket = tls.connect({ host: '127.0.0.1', port, servername: 'inference.local', ca: ca.certPem });
      await once(socket, 'secureConnect');
      expect(socket.authorized).toBe(true);
      socket.destroy();
      const wrong = tls.connect({ host: '127.0.0.1', port, servername: 'inference.local', ca: (await createSandboxCa()).certPem });
      const [err] = (await once(wrong, 'error')) as [Error & { code?: string }];
      expect(err.code).toMatch(/UNABLE_TO_VERIFY|SELF_SIGNED|CERT/);
    } finally {
      server.close();
    }
  });
});
