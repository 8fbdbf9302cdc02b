import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { canaryScan, claudeCredentialsJson } from '@openshell/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claudeKeychainService } from './claude-login.js';
import {
  CLI_PACKAGE_DIR,
  type CliWorld,
  type Fakes,
  type HarvestJson,
  json,
  runCli,
  startCliWorld,
  type TestGateway,
  type TestHome,
} from './testing-fixtures/harness.js';

function hasKeyctl(): boolean {
  try {
    execFileSync('keyctl', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const KEYCTL = hasKeyctl();
if (!KEYCTL) console.warn('[cli keychain test] SKIPPED: `keyctl` (Debian package keyutils) is not installed, so no kernel session keyring can be made');

const RUNNER = join(CLI_PACKAGE_DIR, 'src', 'testing-fixtures', 'keychain-run.mjs');

describe.skipIf(!KEYCTL)('provider create --from-claude-login from the OS keychain (kernel session keyring)', () => {
  let home: TestHome;
  let fakes: Fakes;
  let gw: TestGateway;
  let world: CliWorld;
  beforeAll(async () => {
    world = await startCliWorld();
    ({ home, fakes, gw } = world);
  });
  afterAll(() => world?.close());

  async function harvestFromKeychain(name: string, env: Record<string, string>, service: string) {
    const login = fakes.tokens.issueLogin();
    const run = await runCli(['provider', 'create', '--name', name, '--type', 'claude-plan', '--from-claude-login', '--config', `ANTHROPIC_OAUTH_BASE_URL=${fakes.api.url}`, '-o', 'json'], {
      env: { ...env, KEYCHAIN_SERVICE: service, KEYCHAIN_ACCOUNT: env.USER as string },
      wrap: ['keyctl', 'session', '-'],
      script: RUNNER,
      stdin: claudeCredentialsJson(login, { subscriptionType: 'max' }),
    });
    return { login, run };
  }

  it('reads the item under the CLAUDE_CONFIG_DIR-suffixed service and the login user', async () => {
    // No credentials file exists anywhere: the only login is in the keychain.
    const service = claudeKeychainService(home.claudeConfig);
    expect(service).toMatch(/^Claude Code-credentials-[0-9a-f]{8}$/);
    const { login, run } = await harvestFromKeychain('kc-suffixed', home.env, service);
    expect(run.code, run.stderr).toBe(0);
    const out = json<HarvestJson>(run);
    expect(out.source).toEqual({ kind: 'keychain', service, account: 'openshell-tester' });
    expect(run.stderr).toContain(`Using the Claude Code login from keychain item '${service}' (account 'openshell-tester')`);
    expect(out.refresh?.status).toBe('configured');
    expect(out.verification.performed).toBe(true);
    expect(await canaryScan([run.stdout, run.stderr, ...run.commandLines], [login.accessToken, login.refreshToken as string])).toEqual([]);
  });

  it('reads the plain `Claude Code-credentials` item when CLAUDE_CONFIG_DIR is unset', async () => {
    const env = { ...home.env };
    delete env.CLAUDE_CONFIG_DIR;
    const { run } = await harvestFromKeychain('kc-plain', env, 'Claude Code-credentials');
    expect(run.code, run.stderr).toBe(0);
    expect(json<HarvestJson>(run).source).toEqual({ kind: 'keychain', service: 'Claude Code-credentials', account: 'openshell-tester' });
  });

  it('does not find an item stored under another service name (wrong suffix)', async () => {
    const { run } = await harvestFromKeychain('kc-wrong', home.env, 'Claude Code-credentials');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`keychain item '${claudeKeychainService(home.claudeConfig)}' (account 'openshell-tester'): no item`);
    expect(await gw.gateway.store.getProvider('kc-wrong')).toBeUndefined();
  });
});
