import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGateway, type Gateway, type GatewayOptions } from '../gateway.js';
import { captureStream } from '../logger.js';

/** Parsed JSON of a test answer: loosely typed on purpose, tests assert its shape. */
// biome-ignore lint/suspicious/noExplicitAny: assertions check the shape of parsed JSON answers.
export type TestJson = any;

/** A gateway on a temp data/config dir with captured logs, plus helpers for injected requests. */
export interface TestGateway {
  readonly gw: Gateway;
  readonly dir: string;
  readonly logs: ReturnType<typeof captureStream>;
  readonly adminToken: string;
  /** `app.inject` with the admin token (or `token`), JSON body, parsed JSON answer. */
  call(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    url: string,
    options?: { body?: unknown; token?: string | null; headers?: Record<string, string> },
  ): Promise<{ status: number; json: TestJson; text: string }>;
  close(): Promise<void>;
}

/** Starts a gateway for a test; `close()` closes it and removes its directory. */
export async function startTestGateway(options: Partial<GatewayOptions> & { dir?: string } = {}): Promise<TestGateway> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'osgw-')));
  const logs = captureStream();
  const gw = await createGateway({
    dataDir: join(dir, 'data'),
    configDir: join(dir, 'config'),
    kek: randomBytes(32),
    logStream: logs,
    logLevel: 'debug',
    listen: { host: '127.0.0.1', port: 0 },
    refresh: false,
    ...options,
  });
  const tokenFile = join(dir, 'config', 'gateways', `${options.name ?? 'local'}.token`);
  const adminToken = (await readFile(options.configDir !== undefined ? join(options.configDir, 'gateways', `${options.name ?? 'local'}.token`) : tokenFile, 'utf8')).trim();
  return {
    gw,
    dir,
    logs,
    adminToken,
    async call(method, url, opts = {}) {
      const headers: Record<string, string> = { ...(opts.headers ?? {}) };
      const token = opts.token === undefined ? adminToken : opts.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      const res = await gw.app.inject({
        method,
        url,
        headers,
        ...(opts.body === undefined ? {} : { payload: opts.body as Record<string, unknown> }),
      });
      let json: TestJson;
      try {
        json = res.json();
      } catch {
        json = undefined;
      }
      return { status: res.statusCode, json, text: res.body };
    },
    async close() {
      await gw.close();
      if (options.dir === undefined) await rm(dir, { recursive: true, force: true });
    },
  };
}
