import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_PACKAGE_DIR, createTestHome, runCli, type TestHome } from './testing-fixtures/harness.js';

const TRACER = join(CLI_PACKAGE_DIR, 'src', 'testing-fixtures', 'trace-imports.mjs');

// Every command and group, as a user would type it before --help.
const COMMANDS = [
  [],
  ['gateway'],
  ['gateway', 'start'],
  ['gateway', 'stop'],
  ['gateway', 'status'],
  ['gateway', 'add'],
  ['gateway', 'list'],
  ['gateway', 'use'],
  ['provider'],
  ['provider', 'create'],
  ['provider', 'list'],
  ['provider', 'get'],
  ['provider', 'update'],
  ['provider', 'delete'],
  ['provider', 'profiles'],
  ['provider', 'refresh'],
  ['provider', 'refresh', 'status'],
  ['provider', 'refresh', 'configure'],
  ['provider', 'refresh', 'rotate'],
  ['provider', 'refresh', 'delete'],
  ['inference'],
  ['inference', 'set'],
  ['inference', 'get'],
  ['inference', 'delete'],
  ['sandbox'],
  ['sandbox', 'create'],
  ['sandbox', 'list'],
  ['sandbox', 'get'],
  ['sandbox', 'update'],
  ['sandbox', 'delete'],
  ['sandbox', 'run'],
];

describe('openshell: help, version, exit codes (no gateway)', () => {
  let home: TestHome;
  beforeAll(async () => {
    home = await createTestHome();
  });
  afterAll(async () => {
    await home.cleanup();
  });

  it('prints its version and exits 0', async () => {
    const run = await runCli(['--version'], { env: home.env });
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    expect(run.stderr).toBe('');
  });

  it('has --help with examples on every command and group', async () => {
    for (const cmd of COMMANDS) {
      const run = await runCli([...cmd, '--help'], { env: home.env });
      expect(run.code, `openshell ${cmd.join(' ')} --help`).toBe(0);
      expect(run.stdout, `openshell ${cmd.join(' ')} --help`).toContain('Examples:');
      expect(run.stdout).toMatch(/\$ openshell /);
    }
  });

  it('prints a group help and exits 0 when a group is run without a subcommand', async () => {
    const run = await runCli(['provider'], { env: home.env });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('create [options]');
  });

  it('exits 2 on usage errors, naming the problem', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['provider', 'bogus'], /unknown command 'bogus'/],
      [['provider', 'create', '--name', 'x'], /required option '--type <type>'/],
      [['provider', 'create', '--name', 'x', '--type', 'openai'], /needs a credential source/],
      [['provider', 'create', '--name', 'x', '--type', 'anthropic-oauth', '--from-claude-login', '--from-setup-token'], /--from-claude-login and --from-setup-token cannot be combined/],
      [['provider', 'create', '--name', 'x', '--type', 'openai', '--credential', 'A', '--from-existing'], /--credential and --from-existing cannot be combined/],
      [['--output', 'yaml', 'provider', 'list'], /argument 'yaml' is invalid/],
      [['inference', 'set', '--provider', 'p', '--timeout', 'soon'], /--timeout 'soon' must be whole seconds/],
      [['sandbox', 'run', 'dev'], /needs a command after --/],
      [['gateway', 'start', '--listen', 'nonsense'], /--listen 'nonsense' is not HOST:PORT/],
    ];
    for (const [args, message] of cases) {
      const run = await runCli(args, { env: home.env });
      expect(run.code, `openshell ${args.join(' ')}: ${run.stderr}`).toBe(2);
      expect(run.stderr).toMatch(message);
      expect(run.stdout).toBe('');
    }
  });

  it('exits 1 with the next step when no gateway is configured', async () => {
    const run = await runCli(['provider', 'list'], { env: home.env });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('Error: no gateway is configured');
    expect(run.stderr).toContain('openshell gateway start');
  });

  it('exits 1 and says how to fix an unreachable gateway (OPENSHELL_GATEWAY_URL)', async () => {
    const run = await runCli(['provider', 'list'], { env: { ...home.env, OPENSHELL_GATEWAY_URL: 'http://127.0.0.1:9' } });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('cannot reach the gateway at http://127.0.0.1:9');
    expect(run.stderr).toContain('OPENSHELL_GATEWAY_URL');
  });

  it('honours NO_COLOR and --no-color (no escape codes anywhere)', async () => {
    const forced = await runCli(['provider', 'list'], { env: { ...home.env, FORCE_COLOR: '1' } });
    expect(forced.stderr).toMatch(/\u001b\[/); // colour is on when forced, so the checks below mean something
    const noColorEnv = await runCli(['provider', 'list'], { env: { ...home.env, FORCE_COLOR: '1', NO_COLOR: '1' } });
    const noColorFlag = await runCli(['--no-color', 'provider', 'list'], { env: { ...home.env, FORCE_COLOR: '1' } });
    for (const run of [noColorEnv, noColorFlag]) {
      expect(run.code).toBe(1);
      expect(run.stderr + run.stdout).not.toMatch(/\u001b\[/);
    }
  });
});

describe('openshell: lean startup', () => {
  it('does not load the server, supervisor, fastify, undici or the keychain for --version and --help', async () => {
    const home = await createTestHome();
    try {
      for (const args of [['--version'], ['--help'], ['provider', 'create', '--help']]) {
        const run = await runCli(args, { env: { ...home.env, NODE_OPTIONS: `--import=${TRACER}` } });
        expect(run.code).toBe(0);
        const loaded = run.stderr.split('\n').filter((l) => l.startsWith('[import] '));
        expect(loaded.length, 'the tracer saw the imports').toBeGreaterThan(0);
        for (const forbidden of ['fastify', 'undici', '/packages/server/', '/packages/supervisor/', '@napi-rs', 'keyring', 'better-sqlite3', 'pino', 'zod']) {
          expect(loaded.filter((l) => l.includes(forbidden)), `${args.join(' ')} loaded ${forbidden}`).toEqual([]);
        }
      }
    } finally {
      await home.cleanup();
    }
  });
});
