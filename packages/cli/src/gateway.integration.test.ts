import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { canaryScan } from '@openshell/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_BIN, createTestHome, type Fakes, json, runCli, startFakes, type TestHome, writeProfilesDir } from './testing-fixtures/harness.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('gateway start --detach | status | list | add | use | stop', () => {
  let home: TestHome;
  let fakes: Fakes;
  let pid: number | undefined;
  beforeAll(async () => {
    home = await createTestHome();
    fakes = await startFakes();
  });
  afterAll(async () => {
    if (pid !== undefined && alive(pid)) process.kill(pid, 'SIGKILL');
    await fakes?.close();
    await home?.cleanup();
  });

  it('runs the whole lifecycle of a detached local gateway', async () => {
    const profiles = await writeProfilesDir(join(home.root, 'profiles'), fakes);
    const dataDir = join(home.xdgData, 'openshell', 'gateway');
    const start = await runCli(['gateway', 'start', '--detach', '--listen', '127.0.0.1:0', '--profiles-dir', profiles, '-o', 'json'], { env: home.env });
    expect(start.code, start.stderr).toBe(0);
    const started = json<{ name: string; url: string; dataDir: string; detached: boolean; pid: number; logFile: string }>(start);
    pid = started.pid;
    expect(started).toMatchObject({ name: 'local', dataDir, detached: true, logFile: join(dataDir, 'gateway.log') });
    expect(started.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(alive(started.pid)).toBe(true);
    expect((await readFile(join(dataDir, 'gateway.pid'), 'utf8')).trim()).toBe(String(started.pid));

    // The gateway wrote its admin token 0600 and registered itself; the CLI made it active.
    const cfg = join(home.xdgConfig, 'openshell');
    const tokenFile = join(cfg, 'gateways', 'local.token');
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);
    const token = (await readFile(tokenFile, 'utf8')).trim();
    expect(JSON.parse(await readFile(join(cfg, 'gateways', 'local.json'), 'utf8'))).toMatchObject({ name: 'local', url: started.url });
    expect((await readFile(join(cfg, 'active'), 'utf8')).trim()).toBe('local');
    // Neither the token nor anything secret was ever in a process's argv.
    expect(await canaryScan([start.stdout, start.stderr, ...start.commandLines], [token])).toEqual([]);

    const again = await runCli(['gateway', 'start', '--detach', '--listen', '127.0.0.1:0'], { env: home.env });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`a gateway is already running from ${dataDir} (pid ${started.pid})`);

    const status = await runCli(['gateway', 'status', '-o', 'json'], { env: home.env });
    expect(status.code, status.stderr).toBe(0);
    expect(json(status)).toMatchObject({
      name: 'local',
      url: started.url,
      via: 'active',
      reachable: true,
      ready: true,
      store: 'sqlite',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      refresh: { total: 0, healthy: 0, error: 0, reauthRequired: 0 },
    });
    const statusTable = await runCli(['gateway', 'status'], { env: home.env });
    expect(statusTable.stdout).toContain('ready');
    expect(statusTable.stdout).toContain(started.url);

    const list = await runCli(['provider', 'list', '-o', 'json'], { env: home.env });
    expect(json(list)).toEqual({ providers: [] });

    // Register the same gateway under another name, the token coming from the environment.
    const add = await runCli(['gateway', 'add', 'again', '--url', started.url, '-o', 'json'], { env: { ...home.env, OPENSHELL_ADMIN_TOKEN: token } });
    expect(add.code, add.stderr).toBe(0);
    expect(json(add)).toEqual({ name: 'again', url: started.url, active: true, check: 'ok' });
    expect((await stat(join(cfg, 'gateways', 'again.token'))).mode & 0o777).toBe(0o600);
    expect(await canaryScan([add.stdout, add.stderr, ...add.commandLines], [token])).toEqual([]);
    const gateways = await runCli(['gateway', 'list', '-o', 'json'], { env: home.env });
    expect(json(gateways)).toEqual({
      active: 'again',
      gateways: [
        { name: 'again', url: started.url, active: true, hasToken: true },
        { name: 'local', url: started.url, active: false, hasToken: true },
      ],
    });
    // A wrong token from stdin is stored but reported.
    const bad = await runCli(['gateway', 'add', 'bad', '--url', started.url, '--no-activate'], { env: home.env, stdin: 'osa_not-the-token\n' });
    expect(bad.code).toBe(0);
    expect(bad.stderr).toContain('refused this admin token');
    const refused = await runCli(['--gateway', 'bad', 'provider', 'list'], { env: home.env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("The admin token for gateway 'bad' was refused");
    const use = await runCli(['gateway', 'use', 'local'], { env: home.env });
    expect(use.stdout).toContain("Gateway 'local' is now active");

    const stop = await runCli(['gateway', 'stop', '-o', 'json'], { env: home.env });
    expect(stop.code, stop.stderr).toBe(0);
    expect(json(stop)).toEqual({ stopped: true, name: 'local', pid: started.pid, dataDir });
    expect(alive(started.pid)).toBe(false);
    const down = await runCli(['gateway', 'status'], { env: home.env });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('is not reachable');
    expect(down.stderr).toContain('openshell gateway start');
    const stopAgain = await runCli(['gateway', 'stop'], { env: home.env });
    expect(stopAgain.code).toBe(1);
    expect(stopAgain.stderr).toContain('no detached gateway is running');
  });
});

describe('gateway start in the foreground', () => {
  it('serves until SIGINT, registered under its name, then stops cleanly with exit 0', async () => {
    const home = await createTestHome();
    const child = spawn(process.execPath, [CLI_BIN, 'gateway', 'start', '--name', 'fg', '--listen', '127.0.0.1:0', '--log-level', 'warn'], {
      env: home.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let stdout = '';
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (c: string) => {
        stderr += c;
      });
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no listening line in 30 s; stderr: ${stderr}`)), 30_000);
        child.stdout.setEncoding('utf8').on('data', (c: string) => {
          stdout += c;
          const m = /Gateway 'fg' listening on (\S+)/.exec(stdout);
          if (m?.[1]) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        });
        child.on('exit', (code) => reject(new Error(`gateway start exited early (${code}): ${stderr}`)));
      });
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const list = await runCli(['--gateway', 'fg', 'provider', 'list', '-o', 'json'], { env: home.env });
      expect(list.code, list.stderr).toBe(0);
      expect(json(list)).toEqual({ providers: [] });
      expect((await readFile(join(home.xdgConfig, 'openshell', 'active'), 'utf8')).trim()).toBe('fg');
      const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGINT');
      expect(await exit).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await home.cleanup();
    }
  });
});
