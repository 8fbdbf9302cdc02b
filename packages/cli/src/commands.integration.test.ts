import { fingerprintSecret } from '@openshell/server';
import { canaryScan } from '@openshell/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CliRun,
  type CliWorld,
  json,
  type ProviderOut,
  runCli,
  startCliWorld,
  type TestGateway,
  type TestHome,
} from './testing-fixtures/harness.js';

let home: TestHome;
let gw: TestGateway;
let world: CliWorld;

beforeAll(async () => {
  world = await startCliWorld();
  ({ home, gw } = world);
});

afterAll(() => world?.close());

const OPENAI_KEY = 'sk-openai-canary-1234567890abcdefghijklmnop';
const NVIDIA_KEY = 'nvapi-canary-abcdefghijklmnopqrstuvwxyz0123';
const ANTHROPIC_KEY = 'sk-ant-api03-canary-abcdefghijklmnopqrstuvwx';

async function expectNoSecret(run: CliRun, secrets: readonly string[], options: { argv?: boolean } = {}): Promise<void> {
  const hay = [
    { label: 'stdout', content: run.stdout },
    { label: 'stderr', content: run.stderr },
    { label: 'gateway log', content: gw.logs() },
    ...(options.argv === false ? [] : run.commandLines.map((c, i) => ({ label: `argv#${i}`, content: c }))),
  ];
  expect(await canaryScan(hay, secrets)).toEqual([]);
}

describe('provider create --credential / --from-existing and the read commands', () => {
  it('reads a bare --credential KEY from the environment (never argv) and lists keys, not values', async () => {
    const run = await runCli(['provider', 'create', '--name', 'openai', '--type', 'openai', '--credential', 'OPENAI_API_KEY', '--config', 'OPENAI_BASE_URL=http://127.0.0.1:9/v1'], {
      env: { ...home.env, OPENAI_API_KEY: OPENAI_KEY },
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe('✓ Created provider openai (openai)\n');
    expect(run.stderr).toBe('');
    await expectNoSecret(run, [OPENAI_KEY]);
    expect((await gw.gateway.store.getProvider('openai'))?.credentials.OPENAI_API_KEY).toBe(OPENAI_KEY);
  });

  it('reads a bare --credential KEY from stdin when the environment lacks it', async () => {
    const run = await runCli(['provider', 'create', '--name', 'nv', '--type', 'nvidia', '--credential', 'NVIDIA_API_KEY', '-o', 'json'], {
      env: home.env,
      stdin: `${NVIDIA_KEY}\n`,
    });
    expect(run.code, run.stderr).toBe(0);
    expect(json<ProviderOut>(run).provider.fingerprints).toEqual({ NVIDIA_API_KEY: fingerprintSecret(NVIDIA_KEY) });
    await expectNoSecret(run, [NVIDIA_KEY]);
  });

  it('accepts KEY=VALUE on the command line but warns about process lists and shell history', async () => {
    const run = await runCli(['provider', 'create', '--name', 'inline', '--type', 'openai', '--credential', 'OPENAI_API_KEY=sk-inline-value-0000000000'], { env: home.env });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('⚠ --credential OPENAI_API_KEY=VALUE put the value on the command line');
    expect(run.stderr).toContain('process lists and shell history');
    // the CLI itself never echoes it
    expect(await canaryScan([run.stdout, run.stderr], ['sk-inline-value-0000000000'])).toEqual([]);
  });

  it('--from-existing scans the environment per the profile discovery', async () => {
    const run = await runCli(['provider', 'create', '--name', 'anthropic', '--type', 'anthropic', '--from-existing'], {
      env: { ...home.env, ANTHROPIC_API_KEY: ANTHROPIC_KEY },
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('Found ANTHROPIC_API_KEY in the environment.');
    await expectNoSecret(run, [ANTHROPIC_KEY]);
    const none = await runCli(['provider', 'create', '--name', 'anthropic2', '--type', 'anthropic', '--from-existing'], { env: home.env });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("no existing credentials for 'anthropic' were found in this environment");
    expect(none.stderr).toContain('ANTHROPIC_API_KEY');
  });

  it('list, get and profiles have stable JSON shapes without secret values', async () => {
    const list = await runCli(['provider', 'list', '-o', 'json'], { env: home.env });
    expect(list.code).toBe(0);
    const providers = json<{ providers: Array<Record<string, unknown>> }>(list).providers;
    const openai = providers.find((p) => p.name === 'openai');
    expect(openai).toEqual({
      id: expect.any(String),
      name: 'openai',
      type: 'openai',
      credentialKeys: ['OPENAI_API_KEY'],
      fingerprints: { OPENAI_API_KEY: fingerprintSecret(OPENAI_KEY) },
      credentialExpiresAt: {},
      config: { OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' },
      resourceVersion: 1,
      createdAt: expect.any(Number),
      updatedAt: expect.any(Number),
    });
    const get = await runCli(['provider', 'get', 'openai', '-o', 'json'], { env: home.env });
    expect(json<{ provider: unknown }>(get).provider).toEqual(openai);
    const table = await runCli(['provider', 'get', 'openai'], { env: home.env });
    expect(table.stdout).toContain('OPENAI_API_KEY (');
    expect(table.stdout).toContain(fingerprintSecret(OPENAI_KEY));
    const listTable = await runCli(['provider', 'list'], { env: home.env });
    expect(listTable.stdout).toMatch(/NAME\s+TYPE\s+CREDENTIALS/);
    for (const run of [list, get, table, listTable]) await expectNoSecret(run, [OPENAI_KEY, NVIDIA_KEY, ANTHROPIC_KEY]);

    const profiles = await runCli(['provider', 'profiles', '-o', 'json'], { env: home.env });
    const ids = json<{ profiles: Array<{ id: string }> }>(profiles).profiles.map((p) => p.id);
    expect(ids).toContain('anthropic-oauth');
    const one = await runCli(['provider', 'profiles', 'claude-plan'], { env: home.env });
    expect(one.stdout).toContain('Profile anthropic-oauth:');
    expect(one.stdout).toContain('ANTHROPIC_OAUTH_TOKEN (boundary only) (refreshable)');
  });

  it('update merges config and replaces a credential; a missing provider exits 1 with the next step', async () => {
    const run = await runCli(['provider', 'update', 'openai', '--config', 'OPENAI_BASE_URL=http://127.0.0.1:10/v1', '--credential', 'OPENAI_API_KEY', '-o', 'json'], {
      env: { ...home.env, OPENAI_API_KEY: `${OPENAI_KEY}-2` },
    });
    expect(run.code, run.stderr).toBe(0);
    const p = json<ProviderOut>(run).provider;
    expect(p.config).toEqual({ OPENAI_BASE_URL: 'http://127.0.0.1:10/v1' });
    expect(p.fingerprints.OPENAI_API_KEY).toBe(fingerprintSecret(`${OPENAI_KEY}-2`));
    expect(p.resourceVersion).toBe(2);
    const missing = await runCli(['provider', 'get', 'nope'], { env: home.env });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("provider 'nope' does not exist");
  });
});

describe('inference and sandbox commands', () => {
  it('inference set/get/delete with JSON shapes', async () => {
    const set = await runCli(['inference', 'set', '--provider', 'openai', '--model', 'gpt-4.1', '--timeout', '90', '--no-verify', '-o', 'json'], { env: home.env });
    expect(set.code, set.stderr).toBe(0);
    expect(json(set)).toEqual({
      route: { name: 'inference.local', provider: 'openai', model: 'gpt-4.1', timeoutSeconds: 90, resourceVersion: expect.any(Number), updatedAt: expect.any(Number) },
      verification: { performed: false },
    });
    const get = await runCli(['inference', 'get', '-o', 'json'], { env: home.env });
    expect(json<{ route: Record<string, unknown> }>(get).route).toMatchObject({ name: 'inference.local', provider: 'openai', model: 'gpt-4.1' });
    const all = await runCli(['inference', 'get', '--all'], { env: home.env });
    expect(all.stdout).toMatch(/inference\.local\s+openai\s+gpt-4\.1\s+90s/);
    const verifyFail = await runCli(['inference', 'set', '--route', 'probe', '--provider', 'openai', '--model', 'gpt-4.1'], { env: home.env });
    expect(verifyFail.code).toBe(1);
    expect(verifyFail.stderr).toContain('Error:');
    expect(verifyFail.stderr).toContain('Nothing was saved');
    expect(verifyFail.stderr).not.toContain('verify: false');
    const del = await runCli(['inference', 'delete', '-o', 'json'], { env: home.env });
    expect(json(del)).toEqual({ deleted: true, route: 'inference.local' });
    const gone = await runCli(['inference', 'get'], { env: home.env });
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("inference route 'inference.local' is not configured");
  });

  it('sandbox create/list/get/update/delete; the creation token is never printed', async () => {
    const create = await runCli(['sandbox', 'create', '--name', 'dev', '--provider', 'openai', '-o', 'json'], { env: home.env });
    expect(create.code, create.stderr).toBe(0);
    expect(json(create)).toEqual({
      sandbox: { name: 'dev', id: expect.any(String), providers: ['openai'], resourceVersion: 1, createdAt: expect.any(Number), updatedAt: expect.any(Number) },
    });
    expect(create.stdout).not.toMatch(/oss_/);
    const update = await runCli(['sandbox', 'update', 'dev', '--add-provider', 'nv', '--remove-provider', 'openai', '-o', 'json'], { env: home.env });
    expect(update.code, update.stderr).toBe(0);
    expect(json<{ sandbox: { providers: string[] } }>(update).sandbox.providers).toEqual(['nv']);
    const list = await runCli(['sandbox', 'list'], { env: home.env });
    expect(list.stdout).toMatch(/dev\s+nv/);
    const get = await runCli(['sandbox', 'get', 'dev'], { env: home.env });
    expect(get.stdout).toContain('Providers:');
    const unknown = await runCli(['sandbox', 'create', '--name', 'dev2', '--provider', 'ghost'], { env: home.env });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("unknown provider 'ghost'");
    const del = await runCli(['sandbox', 'delete', 'dev'], { env: home.env });
    expect(del.code).toBe(0);
    expect(del.stdout).toContain('✓ Deleted sandbox dev');
  });

  it('provider delete refuses while in use, and --force removes it and its routes', async () => {
    await runCli(['inference', 'set', '--provider', 'nv', '--no-verify'], { env: home.env });
    const refused = await runCli(['provider', 'delete', 'nv'], { env: home.env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("provider 'nv' is used by");
    const forced = await runCli(['provider', 'delete', 'nv', '--force', '-o', 'json'], { env: home.env });
    expect(json(forced)).toEqual({ deleted: true, name: 'nv', deletedRoutes: ['inference.local'], unboundSandboxes: [] });
  });
});
