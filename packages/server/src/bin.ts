import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { OpenShellError } from '@openshell/core';
import { GATEWAY_HELP, type GatewayArgs, parseGatewayArgs, UsageError } from './bin-args.js';
import { createGateway, type Gateway } from './gateway.js';

function fail(message: string, code: number): never {
  process.stderr.write(`openshell-gateway: ${message}\n`);
  process.exit(code);
}

function readPem(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    return fail(`cannot read ${flag} ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'}); check the path and its permissions`, 1);
  }
}

/** A self-signed certificate is its own CA: the CLI gateway entry then names it as the CA to trust. */
function isSelfSigned(pem: Buffer): boolean {
  try {
    const cert = new X509Certificate(pem);
    return cert.checkIssued(cert);
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  let args: GatewayArgs;
  try {
    args = parseGatewayArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) fail(`${err.message}\nRun openshell-gateway --help for usage.`, 2);
    throw err;
  }
  if (args.help) {
    process.stdout.write(GATEWAY_HELP);
    return;
  }
  for (const w of args.warnings) process.stderr.write(`openshell-gateway: warning: ${w}\n`);

  const tls =
    args.tlsCert === undefined || args.tlsKey === undefined ? undefined : { cert: readPem(args.tlsCert, '--tls-cert'), key: readPem(args.tlsKey, '--tls-key') };
  let gateway: Gateway;
  try {
    gateway = await createGateway({
      listen: args.listen,
      insecure: args.insecure,
      logLevel: args.logLevel,
      ...(args.dataDir === undefined ? {} : { dataDir: args.dataDir }),
      ...(args.databaseUrl === undefined ? {} : { databaseUrl: args.databaseUrl }),
      ...(args.profilesDir === undefined ? {} : { profilesDir: args.profilesDir }),
      ...(args.kekFile === undefined ? {} : { kekFile: args.kekFile }),
      ...(args.name === undefined ? {} : { name: args.name }),
      ...(args.configDir === undefined ? {} : { configDir: args.configDir }),
      ...(tls === undefined ? {} : { tls }),
      ...(tls !== undefined && args.tlsCert !== undefined && isSelfSigned(tls.cert) ? { caCertFile: resolve(args.tlsCert) } : {}),
    });
  } catch (err) {
    // Start-up errors (listen policy, invalid profiles, key mismatch, unreachable database) say how to fix them.
    if (OpenShellError.isInstance(err)) fail(err.message, 1);
    fail(`could not start: ${(err as Error).message}`, 1);
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      process.stderr.write(`openshell-gateway: ${signal} again, exiting without waiting\n`);
      process.exit(1);
    }
    stopping = true;
    gateway.logger.info({ signal }, 'shutting down: finishing requests in flight');
    gateway.close().then(
      () => process.exit(0),
      (err: unknown) => fail(`shutdown failed: ${(err as Error).message}`, 1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));

  try {
    const url = await gateway.start();
    process.stdout.write(`openshell-gateway listening on ${url}\n`);
  } catch (err) {
    await gateway.close().catch(() => undefined);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') fail(`${args.listen.host}:${args.listen.port} is already in use; stop the other process or choose another --listen port`, 1);
    if (code === 'EACCES') fail(`no permission to listen on ${args.listen.host}:${args.listen.port}; use a port above 1023`, 1);
    fail(`could not listen: ${(err as Error).message}`, 1);
  }
}

main().catch((err: unknown) => fail(`unexpected error: ${(err as Error).message}`, 1));
