import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { canaryScan, waitUntil } from '@openshell/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { HELP, main, parseArgs } from './bin.js';
import { type Harness, PACKAGE_DIR, RUN_BIN, startHarness } from './testing-fixtures/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ isolation: 'none' });
});
afterAll(async () => {
  await h?.close();
});

interface BinRun {
  readonly proc: ChildProcess;
  stdout: string;
  stderr: string;
  readonly exited: Promise<number | null>;
}

/** Starts the real bin (from source, through tsx) with the token on descriptor 3. */
function startBin(args: readonly string[], token: string | undefined, env: Record<string, string> = {}): BinRun {
  const proc = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', RUN_BIN, ...args], {
    cwd: PACKAGE_DIR,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
  });
  const fd3 = proc.stdio[3] as Writable;
  fd3.on('error', () => undefined);
  if (token !== undefined) fd3.write(`${token}\n`);
  fd3.end();
  const run: BinRun = {
    proc,
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) => proc.once('close', (code) => resolve(code))),
  };
  proc.stdout?.on('data', (d: Buffer) => {
    run.stdout += d.toString();
  });
  proc.stderr?.on('data', (d: Buffer) => {
    run.stderr += d.toString();
  });
  return run;
}

const WAITING_CHILD = [
  "const fs = require('fs');",
  "process.stdout.write('ready\\n');",
  'const deadline = Date.now() + 20000;',
  "const tick = () => { if (fs.existsSync(process.env.TMPDIR + '/release') || Date.now() > deadline) process.exit(7); setTimeout(tick, 20); };",
  'tick();',
].join('\n');

describe('openshell-supervisor bin', () => {
  it('reads the token from --token-fd: it is in neither /proc/<pid>/environ nor cmdline, nor any workspace file or log line', async () => {
    const ws = join(h.dir, 'bin-ws');
    const run = startBin(
      ['--gateway', h.gateway.url, '--sandbox', 'bin-test', '--token-fd', '3', '--isolation', 'none', '--workspace', ws, '--log-level', 'debug', '--', process.execPath, '-e', WAITING_CHILD],
      h.sandboxToken,
    );
    await waitUntil(() => run.stdout.includes('ready') || run.proc.exitCode !== null, 'the child to start', 20_000);
    expect(run.stdout).toContain('ready');
    const pid = run.proc.pid as number;
    const environ = await readFile(`/proc/${pid}/environ`);
    const cmdline = await readFile(`/proc/${pid}/cmdline`);
    const runs = await readdir(join(ws, 'runs'));
    expect(runs).toHaveLength(1);
    const during = await canaryScan(
      [{ label: 'supervisor environ', content: environ }, { label: 'supervisor cmdline', content: cmdline }, { path: ws }],
      [h.sandboxToken, h.upstreamToken],
    );
    expect(during).toEqual([]);
    expect(cmdline.toString()).toContain('--token-fd');
    await writeFile(join(ws, 'tmp', 'release'), '');
    expect(await run.exited).toBe(7);
    // The run's directory (CA files, sockets) is removed; HOME and TMPDIR persist.
    expect(await readdir(join(ws, 'runs'))).toEqual([]);
    expect(existsSync(join(ws, 'home'))).toBe(true);
    expect(await canaryScan([run.stderr, run.stdout], [h.sandboxToken, h.upstreamToken])).toEqual([]);
    expect(run.stderr).toContain('isolation: none');
  });

  it('scrubs a token found in its own environment and never passes it on', async () => {
    const run = startBin(
      ['--gateway', h.gateway.url, '--sandbox', 'bin-test', '--isolation', 'none', '--workspace', join(h.dir, 'bin-ws2'), '--', 'sh', '-c', 'env'],
      h.sandboxToken,
      { OPENSHELL_SANDBOX_TOKEN: h.sandboxToken },
    );
    expect(await run.exited).toBe(0);
    expect(run.stderr).toMatch(/removed a sandbox token from the supervisor environment.*OPENSHELL_SANDBOX_TOKEN/);
    expect(run.stdout).toContain('HOME=');
    expect(await canaryScan([run.stdout], [h.sandboxToken])).toEqual([]);
  });

  it('exits 125 with the cause when the descriptor carries no token, or the gateway refuses it', async () => {
    const empty = startBin(['--gateway', h.gateway.url, '--sandbox', 'x', '--isolation', 'none', '--', 'true'], undefined);
    const wrong = startBin(['--gateway', h.gateway.url, '--sandbox', 'x', '--isolation', 'none', '--', 'true'], 'oss_not_the_token');
    expect(await empty.exited).toBe(125);
    expect(empty.stderr).toMatch(/token_missing.*descriptor 3/);
    expect(await wrong.exited).toBe(125);
    expect(wrong.stderr).toMatch(/gateway_rejected.*openshell sandbox run/);
    expect(wrong.stderr).not.toContain('oss_not_the_token');
  });

  it('returns 2 on usage errors and explains itself with --help', async () => {
    const written: string[] = [];
    const capture = (chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    };
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    try {
      expect(await main(['--sandbox', 'x', '--', 'true'])).toBe(2);
      expect(written.join('')).toContain('--gateway URL is required');
      written.length = 0;
      expect(await main(['--help'])).toBe(0);
      expect(written.join('')).toBe(HELP);
    } finally {
      err.mockRestore();
      out.mockRestore();
    }
    expect(HELP).toMatch(/--token-fd N[\s\S]*--isolation MODE[\s\S]*Exit codes/);
  });
});

describe('parseArgs', () => {
  it('reads every option and keeps the command after --, flags included', () => {
    expect(
      parseArgs(['--gateway=http://127.0.0.1:8787', '--sandbox', 'dev', '--token-fd', '4', '--isolation', 'bwrap', '--bind', '/a', '--bind', '/b', '--ro-bind', '/c', '--', 'claude', '--print', 'hi']),
    ).toEqual({
      gatewayUrl: 'http://127.0.0.1:8787',
      sandbox: 'dev',
      tokenFd: 4,
      isolation: 'bwrap',
      command: ['claude', '--print', 'hi'],
      logLevel: 'info',
      bind: ['/a', '/b'],
      readOnly: ['/c'],
    });
  });

  it.each([
    [['--gateway', 'http://g', '--sandbox', 's'], /no command given/],
    [['--gateway', 'ftp://g', '--sandbox', 's', '--', 'x'], /http:\/\/ or https:\/\//],
    [['--gateway', 'http://g', '--sandbox', 's', '--token-fd', '1', '--', 'x'], /3 or more/],
    [['--gateway', 'http://g', '--sandbox', 's', '--isolation', 'docker', '--', 'x'], /auto, bwrap or none/],
    [['--gateway', 'http://g', '--sandbox', 's', '--token', 'abc', '--', 'x'], /unknown option '--token'/],
    [['--gateway', '--sandbox', 's', '--', 'x'], /--gateway needs a value/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(message);
  });
});
