import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GATEWAY_HELP, parseGatewayArgs, parseListen, UsageError } from './bin-args.js';

describe('parseGatewayArgs', () => {
  it('defaults to loopback 127.0.0.1:8787, level info', () => {
    expect(parseGatewayArgs([], {})).toEqual({ help: false, listen: { host: '127.0.0.1', port: 8787 }, insecure: false, logLevel: 'info', warnings: [] });
  });

  it('reads every flag', () => {
    const a = parseGatewayArgs(
      [
        '--listen', '[::1]:9000', '--data-dir', '/d', '--database-url', 'postgres://gw@127.0.0.1/db', '--profiles-dir', '/p',
        '--tls-cert', 'c.pem', '--tls-key', 'k.pem', '--insecure', '--kek-file', '/k', '--name', 'prod', '--config-dir', '/c', '--log-level', 'debug',
      ],
      {},
    );
    expect(a).toMatchObject({
      listen: { host: '::1', port: 9000 },
      dataDir: '/d',
      databaseUrl: 'postgres://gw@127.0.0.1/db',
      profilesDir: '/p',
      tlsCert: 'c.pem',
      tlsKey: 'k.pem',
      insecure: true,
      kekFile: '/k',
      name: 'prod',
      configDir: '/c',
      logLevel: 'debug',
    });
  });

  it('takes the database URL from OPENSHELL_DATABASE_URL and warns about a password on the command line', () => {
    expect(parseGatewayArgs([], { OPENSHELL_DATABASE_URL: 'postgres://a@127.0.0.1/x' }).databaseUrl).toBe('postgres://a@127.0.0.1/x');
    const w = parseGatewayArgs(['--database-url', 'postgres://a:pw@127.0.0.1/x'], {});
    expect(w.warnings[0]).toMatch(/OPENSHELL_DATABASE_URL/);
  });

  it.each([
    [['--listen', '8787'], /HOST:PORT/],
    [['--listen', '127.0.0.1:99999'], /out of range/],
    [['--tls-cert', 'c.pem'], /go together/],
    [['--log-level', 'loud'], /log-level/],
    [['--name', '../x'], /--name/],
    [['--database-url', 'not a url'], /not a URL/],
    [['--bogus'], /bogus/],
    [['positional'], /positional|Unexpected argument/i],
  ])('refuses %j', (argv, message) => {
    expect(() => parseGatewayArgs(argv, {})).toThrow(UsageError);
    expect(() => parseGatewayArgs(argv, {})).toThrow(message);
  });

  it('parses :PORT as loopback', () => {
    expect(parseListen(':0')).toEqual({ host: '127.0.0.1', port: 0 });
  });

  it('documents every flag in --help', () => {
    for (const flag of ['--listen', '--data-dir', '--database-url', '--profiles-dir', '--tls-cert', '--tls-key', '--insecure', '--kek-file', '--name', '--log-level', '--config-dir', 'OPENSHELL_KEK']) {
      expect(GATEWAY_HELP).toContain(flag);
    }
  });
});

describe('openshell-gateway process', () => {
  let child: ChildProcess | undefined;
  const dirs: string[] = [];
  afterEach(async () => {
    if (child !== undefined && child.exitCode === null && child.pid !== undefined) child.kill('SIGKILL');
    child = undefined;
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  function run(args: string[], env: Record<string, string> = {}) {
    const p = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', join(import.meta.dirname, 'bin.ts'), ...args], {
      cwd: join(import.meta.dirname, '..'),
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    p.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const exited = new Promise<number | null>((resolve) => p.on('exit', (code) => resolve(code)));
    return { p, exited, out: () => stdout, err: () => stderr };
  }

  it('starts, prints the listening line, serves /readyz, and stops on SIGTERM with exit 0', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'osgw-bin-'));
    dirs.push(dir);
    const r = run(['--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data'), '--config-dir', join(dir, 'cfg'), '--log-level', 'warn']);
    child = r.p;
    for (let i = 0; i < 200 && !r.out().includes('\n') && r.p.exitCode === null; i++) await new Promise((res) => setTimeout(res, 100));
    const line = r.out().trim();
    expect(line, r.err()).toMatch(/^openshell-gateway listening on http:\/\/127\.0\.0\.1:\d+$/);
    const url = line.replace('openshell-gateway listening on ', '');
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const token = (await readFile(join(dir, 'cfg', 'gateways', 'local.token'), 'utf8')).trim();
    expect((await fetch(`${url}/v1/providers`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    r.p.kill('SIGTERM');
    expect(await r.exited).toBe(0);
    expect(r.out()).not.toContain(token);
    expect(r.err()).not.toContain(token);
  }, 60_000);

  it('prints --help and exits 0; a usage error exits 2; a listen policy violation exits 1', async () => {
    const help = run(['--help']);
    child = help.p;
    expect(await help.exited).toBe(0);
    expect(help.out()).toContain('Usage: openshell-gateway');
    const usage = run(['--listen', 'nope']);
    expect(await usage.exited).toBe(2);
    expect(usage.err()).toMatch(/--listen 'nope' is not HOST:PORT[\s\S]*--help/);
    const policy = run(['--listen', '0.0.0.0:0']);
    expect(await policy.exited).toBe(1);
    expect(policy.err()).toMatch(/refusing to listen on 0\.0\.0\.0 without TLS/);
  }, 60_000);
});
