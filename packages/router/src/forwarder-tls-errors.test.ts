import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { type Server, createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RouterError } from './errors.js';
import { type Forwarder, createForwarder, toRouterError } from './forwarder.js';
import { TEST_OAUTH_TOKEN, oauthRoute } from './testing-fixtures/routes.js';
import { send, startRouter } from './testing-fixtures/servers.js';

const ROUTE = { name: 'inference.local', timeouts: { connectMs: 1_000, firstByteMs: 1_000, idleMs: 1_000 } };

const codeError = (code: string) => Object.assign(new Error(`fake ${code}`), { code });

describe('toRouterError: TLS and certificate failures are connect failures', () => {
  // Node's X.509 verification codes (https://nodejs.org/api/tls.html#x509-certificate-error-codes)
  // plus node's own TLS errors; none of them may read as a failure in the middle of a response.
  const TLS_CODES = [
    'UNABLE_TO_GET_ISSUER_CERT',
    'UNABLE_TO_GET_CRL',
    'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
    'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
    'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
    'CERT_SIGNATURE_FAILURE',
    'CRL_SIGNATURE_FAILURE',
    'CERT_NOT_YET_VALID',
    'CERT_HAS_EXPIRED',
    'CRL_NOT_YET_VALID',
    'CRL_HAS_EXPIRED',
    'ERROR_IN_CERT_NOT_BEFORE_FIELD',
    'ERROR_IN_CERT_NOT_AFTER_FIELD',
    'ERROR_IN_CRL_LAST_UPDATE_FIELD',
    'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
    'OUT_OF_MEM',
    'DEPTH_ZERO_SELF_SIGNED_CERT',
    'SELF_SIGNED_CERT_IN_CHAIN',
    'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'CERT_CHAIN_TOO_LONG',
    'CERT_REVOKED',
    'INVALID_CA',
    'PATH_LENGTH_EXCEEDED',
    'INVALID_PURPOSE',
    'CERT_UNTRUSTED',
    'CERT_REJECTED',
    'HOSTNAME_MISMATCH',
    'ERR_TLS_CERT_ALTNAME_INVALID',
    'ERR_TLS_HANDSHAKE_TIMEOUT',
    'ERR_SSL_WRONG_VERSION_NUMBER',
    'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  ];

  it.each(TLS_CODES)('%s → upstream_connect_failed naming the code and the certificates', (code) => {
    const cause = codeError(code);
    const error = toRouterError(cause, ROUTE);
    expect(error.code).toBe('upstream_connect_failed');
    expect(error.status).toBe(502);
    expect(error.message).toBe(
      `TLS with the upstream of route 'inference.local' failed (${code}); check the provider's base URL and certificates`,
    );
    expect(error.cause).toBe(cause);
  });

  it.each([
    ['ECONNRESET', 'upstream_failed'],
    ['EPIPE', 'upstream_failed'],
    ['UND_ERR_SOCKET', 'upstream_failed'],
    ['', 'upstream_failed'],
    ['ECONNREFUSED', 'upstream_connect_failed'],
  ])('%s is not taken for a TLS failure (→ %s)', (code, expected) => {
    const error = toRouterError(codeError(code), ROUTE);
    expect(error.code).toBe(expected);
    expect(error.message).not.toContain('TLS with the upstream');
  });

  it('a RouterError passes through unchanged', () => {
    const original = new RouterError('upstream_connect_failed', 'already mapped');
    expect(toRouterError(original, ROUTE)).toBe(original);
  });
});

// ---------------------------------------------------------------------------------------------
// Real handshakes against loopback https servers with certificates made for this file.

interface Pki {
  readonly dir: string;
  readonly caPem: Buffer;
  readonly otherCaPem: Buffer;
  /** Leaf for localhost/127.0.0.1 signed by `caPem`. */
  readonly leaf: { key: Buffer; cert: Buffer };
  /** Self-signed leaf (no CA). */
  readonly selfSigned: { key: Buffer; cert: Buffer };
  /** Leaf signed by `caPem` for a name the test never connects to. */
  readonly wrongName: { key: Buffer; cert: Buffer };
}

async function makePki(): Promise<Pki> {
  const run = promisify(execFile);
  const dir = await mkdtemp(join(tmpdir(), 'router-tls-errors-'));
  const p = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  const caExt = ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'];
  await run('openssl', ['req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '1', '-subj', '/CN=Router TLS Test CA', ...caExt]);
  await run('openssl', ['req', '-x509', ...ec, '-keyout', p('other.key'), '-out', p('other.pem'), '-days', '1', '-subj', '/CN=Other Test CA', ...caExt]);
  const signed = async (stem: string, san: string) => {
    await run('openssl', ['req', '-new', ...ec, '-keyout', p(`${stem}.key`), '-out', p(`${stem}.csr`), '-subj', '/CN=router-test-leaf']);
    await writeFile(p(`${stem}.ext`), `subjectAltName=${san}\n`);
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      p(`${stem}.csr`),
      '-CA',
      p('ca.pem'),
      '-CAkey',
      p('ca.key'),
      '-CAcreateserial',
      '-out',
      p(`${stem}.pem`),
      '-days',
      '1',
      '-extfile',
      p(`${stem}.ext`),
    ]);
    return { key: await readFile(p(`${stem}.key`)), cert: await readFile(p(`${stem}.pem`)) };
  };
  const leaf = await signed('leaf', 'DNS:localhost,IP:127.0.0.1');
  const wrongName = await signed('wrong', 'DNS:elsewhere.invalid');
  await run('openssl', ['req', '-x509', ...ec, '-keyout', p('self.key'), '-out', p('self.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1']);
  return {
    dir,
    caPem: await readFile(p('ca.pem')),
    otherCaPem: await readFile(p('other.pem')),
    leaf,
    selfSigned: { key: await readFile(p('self.key')), cert: await readFile(p('self.pem')) },
    wrongName,
  };
}

async function startHttps(identity: { key: Buffer; cert: Buffer }): Promise<{ port: number; requests: number; close(): Promise<void> }> {
  const state = { port: 0, requests: 0, close: async () => {} };
  const server: Server = createHttpsServer({ ...identity, ALPNProtocols: ['http/1.1'] }, (_req, res) => {
    state.requests++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  // A client that rejects the certificate aborts the handshake; the server side just sees a reset.
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as AddressInfo).port;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}

describe('forwarding to an upstream whose certificate does not verify', () => {
  let pki: Pki;
  let trusted: Awaited<ReturnType<typeof startHttps>>;
  let selfSigned: Awaited<ReturnType<typeof startHttps>>;
  let wrongName: Awaited<ReturnType<typeof startHttps>>;

  beforeAll(async () => {
    pki = await makePki();
    trusted = await startHttps(pki.leaf);
    selfSigned = await startHttps(pki.selfSigned);
    wrongName = await startHttps(pki.wrongName);
  });

  afterAll(async () => {
    await Promise.all([trusted?.close(), selfSigned?.close(), wrongName?.close()]);
    if (pki) await rm(pki.dir, { recursive: true, force: true });
  });

  // Every case is proven for both upstream transports (ForwarderSettings.transport).
  describe.each(['undici', 'h1'] as const)('transport %s', (transport) => {
    async function forwardOnce(forwarder: Forwarder, port: number) {
      const route = oauthRoute(`https://127.0.0.1:${port}/v1`, { timeouts: ROUTE.timeouts });
      const router = await startRouter(forwarder, () => route);
      try {
        const res = await send(router.url, { path: '/v1/messages', headers: { 'content-type': 'application/json' }, body: '{"stream":false}' });
        return { res, result: router.results[0] };
      } finally {
        await router.close();
      }
    }

    async function expectTlsFailure(forwarder: Forwarder, port: number, code: string) {
      const { res, result } = await forwardOnce(forwarder, port);
      const text = res.body.toString();
      expect(res.status).toBe(502);
      expect(res.headers['x-openshell-error']).toBe('upstream_connect_failed');
      expect(JSON.parse(text)).toEqual({
        type: 'error',
        error: {
          type: 'api_error',
          message: `openshell router (upstream_connect_failed): TLS with the upstream of route 'inference.local' failed (${code}); check the provider's base URL and certificates`,
        },
      });
      expect(text).not.toContain(TEST_OAUTH_TOKEN);
      expect(result?.error?.code).toBe('upstream_connect_failed');
      expect((result?.error?.cause as { code?: string } | undefined)?.code).toBe(code);
    }

    it('the right CA verifies (control: the failures below are the certificate, not the setup)', async () => {
      const forwarder = createForwarder({ transport, tls: { ca: pki.caPem } });
      try {
        const { res } = await forwardOnce(forwarder, trusted.port);
        expect(res.status).toBe(200);
        expect(JSON.parse(res.body.toString())).toEqual({ ok: true });
      } finally {
        await forwarder.close();
      }
    });

    it('a certificate from another CA → 502 upstream_connect_failed (UNABLE_TO_VERIFY_LEAF_SIGNATURE)', async () => {
      const forwarder = createForwarder({ transport, tls: { ca: pki.otherCaPem } });
      const before = trusted.requests;
      try {
        await expectTlsFailure(forwarder, trusted.port, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
      } finally {
        await forwarder.close();
      }
      expect(trusted.requests).toBe(before); // nothing was sent over the unverified connection
    });

    it('a self-signed certificate → 502 upstream_connect_failed (DEPTH_ZERO_SELF_SIGNED_CERT)', async () => {
      const forwarder = createForwarder({ transport, tls: { ca: pki.caPem } });
      try {
        await expectTlsFailure(forwarder, selfSigned.port, 'DEPTH_ZERO_SELF_SIGNED_CERT');
      } finally {
        await forwarder.close();
      }
      expect(selfSigned.requests).toBe(0);
    });

    it('a trusted certificate for another name → 502 upstream_connect_failed (ERR_TLS_CERT_ALTNAME_INVALID)', async () => {
      const forwarder = createForwarder({ transport, tls: { ca: pki.caPem } });
      try {
        await expectTlsFailure(forwarder, wrongName.port, 'ERR_TLS_CERT_ALTNAME_INVALID');
      } finally {
        await forwarder.close();
      }
      expect(wrongName.requests).toBe(0);
    });
  });

  it('a verification probe (Forwarder.request) rejects with the same error', async () => {
    const forwarder = createForwarder({ tls: { ca: pki.otherCaPem } });
    try {
      const route = oauthRoute(`https://127.0.0.1:${trusted.port}/v1`, { timeouts: ROUTE.timeouts });
      const err = await forwarder.request(route, { method: 'GET', target: '/v1/models' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(RouterError.isRouterError(err)).toBe(true);
      expect((err as RouterError).code).toBe('upstream_connect_failed');
      expect((err as RouterError).message).toContain('(UNABLE_TO_VERIFY_LEAF_SIGNATURE)');
    } finally {
      await forwarder.close();
    }
  });
});
