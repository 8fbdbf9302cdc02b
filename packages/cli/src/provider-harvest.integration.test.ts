import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fingerprintSecret } from '@openshell/server';
import { canaryScan, type FakeLogin, headerValue, writeClaudeCredentials } from '@openshell/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OWNERSHIP_WARNING } from './commands/harvest.js';
import {
  type CliRun,
  type CliWorld,
  type Fakes,
  type HarvestJson,
  json,
  type RefreshOut,
  type RefreshStatusOut,
  runCli,
  startCliWorld,
  startFaultProxy,
  type TestGateway,
  type TestHome,
} from './testing-fixtures/harness.js';

let home: TestHome;
let fakes: Fakes;
let gw: TestGateway;
let world: CliWorld;
let dirCount = 0;

beforeAll(async () => {
  world = await startCliWorld();
  ({ home, fakes, gw } = world);
});

afterAll(() => world?.close());

/** A fresh CLAUDE_CONFIG_DIR for one test. */
function claudeDir(): string {
  dirCount += 1;
  return join(home.root, `claude-${dirCount}`);
}

function envWith(extra: Record<string, string | undefined>): Record<string, string> {
  const env: Record<string, string> = { ...home.env };
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** The fake Anthropic base URL for the provider's config (the verification probe goes there). */
function baseUrlConfig(): string[] {
  return ['--config', `ANTHROPIC_OAUTH_BASE_URL=${fakes.api.url}`];
}

async function expectNoSecret(run: CliRun, secrets: readonly string[]): Promise<void> {
  const hits = await canaryScan(
    [
      { label: 'stdout', content: run.stdout },
      { label: 'stderr', content: run.stderr },
      ...run.commandLines.map((c, i) => ({ label: `argv#${i}`, content: c })),
      { label: 'gateway log', content: gw.logs() },
    ],
    secrets,
  );
  expect(hits).toEqual([]);
}

async function providerExists(name: string): Promise<boolean> {
  return (await gw.gateway.store.getProvider(name)) !== undefined;
}

function bearerOf(i: number): string | undefined {
  const req = fakes.api.requests[i];
  return req ? headerValue(req, 'authorization') : undefined;
}

describe('provider create --from-claude-login', () => {
  it('harvests $CLAUDE_CONFIG_DIR/.credentials.json, configures refresh, verifies without a rotation (JSON)', async () => {
    const login: FakeLogin = fakes.tokens.issueLogin();
    const dir = claudeDir();
    const path = await writeClaudeCredentials(dir, login);
    const callsBefore = fakes.tokens.calls.length;
    const apiBefore = fakes.api.requests.length;

    const run = await runCli(['provider', 'create', '--name', 'cp-json', '--type', 'claude-plan', '--from-claude-login', ...baseUrlConfig(), '-o', 'json'], {
      env: envWith({ CLAUDE_CONFIG_DIR: dir }),
    });
    expect(run.code, run.stderr).toBe(0);
    const out = json<HarvestJson>(run);
    expect(Object.keys(out).sort()).toEqual(['credentialKey', 'provider', 'refresh', 'source', 'verification', 'warnings']);
    expect(out.provider).toMatchObject({
      name: 'cp-json',
      type: 'anthropic-oauth',
      credentialKeys: ['ANTHROPIC_OAUTH_TOKEN'],
      fingerprints: { ANTHROPIC_OAUTH_TOKEN: fingerprintSecret(login.accessToken) },
      credentialExpiresAt: { ANTHROPIC_OAUTH_TOKEN: login.expiresAt },
      config: { ANTHROPIC_OAUTH_BASE_URL: fakes.api.url },
    });
    expect(out.credentialKey).toBe('ANTHROPIC_OAUTH_TOKEN');
    expect(out.source).toEqual({ kind: 'file', path });
    expect(out.refresh).toMatchObject({ provider: 'cp-json', credentialKey: 'ANTHROPIC_OAUTH_TOKEN', status: 'configured', expiresAt: login.expiresAt });
    expect(out.verification).toMatchObject({ performed: true, status: 200 });
    expect(out.warnings).toEqual([OWNERSHIP_WARNING]);

    // The source is reported, and the ownership warning is said exactly once.
    expect(run.stderr).toContain(`Using the Claude Code login from ${path}`);
    expect(run.stderr.split('share one rotating refresh token').length - 1).toBe(1);
    // Verified with the harvested access token, and the shared refresh token was NOT spent.
    expect(fakes.api.requests.length).toBeGreaterThan(apiBefore);
    expect(bearerOf(fakes.api.requests.length - 1)).toBe(`Bearer ${login.accessToken}`);
    expect(fakes.tokens.calls.length).toBe(callsBefore);
    expect(fakes.tokens.isRefreshTokenValid(login.refreshToken as string)).toBe(true);
    await expectNoSecret(run, [login.accessToken, login.refreshToken as string]);
  });

  it('falls back to ~/.claude/.credentials.json and prints a table result', async () => {
    const login = fakes.tokens.issueLogin();
    const path = await writeClaudeCredentials(join(home.home, '.claude'), login);
    const run = await runCli(['provider', 'create', '--name', 'cp-home', '--type', 'anthropic-oauth', '--from-claude-login', ...baseUrlConfig()], {
      env: envWith({ CLAUDE_CONFIG_DIR: undefined }),
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`✓ Created provider cp-home (anthropic-oauth) from ${path}`);
    expect(run.stdout).toContain('Refresh: configured');
    expect(run.stdout).toMatch(/Verified: GET http:\/\/127\.0\.0\.1:\d+\/v1\/models answered 200/);
    expect(run.stderr).toContain(OWNERSHIP_WARNING);
    await expectNoSecret(run, [login.accessToken, login.refreshToken as string]);
  });

  it('normalizes an expiresAt written in seconds to milliseconds', async () => {
    const login = fakes.tokens.issueLogin();
    const dir = claudeDir();
    await writeClaudeCredentials(dir, login, { expiresAtUnit: 's' });
    const run = await runCli(['provider', 'create', '--name', 'cp-seconds', '--type', 'claude-plan', '--from-claude-login', ...baseUrlConfig(), '-o', 'json'], {
      env: envWith({ CLAUDE_CONFIG_DIR: dir }),
    });
    expect(run.code, run.stderr).toBe(0);
    const stored = (await gw.gateway.store.getProvider('cp-seconds'))?.credentialExpiresAt.ANTHROPIC_OAUTH_TOKEN;
    expect(stored).toBe(Math.floor(login.expiresAt / 1000) * 1000);
    expect(json<HarvestJson>(run).refresh.expiresAt).toBe(stored);
  });

  it('accepts an expired access token: the gateway mints a fresh one, which is then verified', async () => {
    const login = fakes.tokens.issueLogin();
    const dir = claudeDir();
    await writeClaudeCredentials(dir, { ...login, expiresAt: Date.now() - 3_600_000 });
    const rotations = fakes.tokens.rotations;
    const run = await runCli(['provider', 'create', '--name', 'cp-expired', '--type', 'claude-plan', '--from-claude-login', ...baseUrlConfig(), '-o', 'json'], {
      env: envWith({ CLAUDE_CONFIG_DIR: dir }),
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('the gateway is minting a fresh one');
    expect(fakes.tokens.rotations).toBeGreaterThan(rotations);
    const out = json<HarvestJson>(run);
    expect(out.refresh.status).toBe('refreshed');
    expect(out.provider.fingerprints.ANTHROPIC_OAUTH_TOKEN).not.toBe(fingerprintSecret(login.accessToken));
    expect(out.verification.performed).toBe(true);
    await expectNoSecret(run, [login.accessToken, login.refreshToken as string]);
  });

  const failures: Array<{ name: string; write: (dir: string, login: FakeLogin) => Promise<void>; expected: string[] }> = [
    ...(['accessToken', 'refreshToken', 'expiresAt'] as const).map((field) => ({
      name: `missing ${field}`,
      write: async (dir: string, login: FakeLogin) => {
        await writeClaudeCredentials(dir, login, { omit: [field] });
      },
      expected: [`claudeAiOauth.${field} is missing`],
    })),
    {
      name: 'an mcpOAuth-only blob',
      write: async (dir, login) => {
        await writeClaudeCredentials(dir, login, { mcpOnly: true });
      },
      expected: ['holds only MCP server logins (mcpOAuth)'],
    },
    {
      name: 'wrong JSON',
      write: async (dir, login) => {
        await mkdir(dir, { recursive: true });
        await writeFile(join(dir, '.credentials.json'), `{"claudeAiOauth":{"accessToken":"${login.accessToken}",`);
      },
      expected: ['is not valid JSON'],
    },
    {
      name: 'an unreadable file',
      write: async (dir) => {
        await mkdir(join(dir, '.credentials.json'), { recursive: true });
      },
      expected: ['cannot read the Claude Code login file', 'EISDIR'],
    },
  ];

  for (const failure of failures) {
    it(`fails on ${failure.name}: names the file and the fix, creates nothing, spends nothing`, async () => {
      const login = fakes.tokens.issueLogin();
      const dir = claudeDir();
      await failure.write(dir, login);
      const name = `bad-${failures.indexOf(failure)}`;
      const calls = fakes.tokens.calls.length;
      const run = await runCli(['provider', 'create', '--name', name, '--type', 'claude-plan', '--from-claude-login', ...baseUrlConfig()], {
        env: envWith({ CLAUDE_CONFIG_DIR: dir }),
      });
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain(join(dir, '.credentials.json'));
      for (const text of failure.expected) expect(run.stderr).toContain(text);
      expect(run.stderr).toContain('Run `claude` and log in');
      expect(await providerExists(name)).toBe(false);
      expect(fakes.tokens.calls.length).toBe(calls);
      await expectNoSecret(run, [login.accessToken, login.refreshToken as string]);
    });
  }

  it('refuses types other than anthropic-oauth before reading the login', async () => {
    const run = await runCli(['provider', 'create', '--name', 'wrong-type', '--type', 'openai', '--from-claude-login'], { env: home.env });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("--from-claude-login is not supported for 'openai' providers");
    expect(run.stderr).not.toContain('Using the Claude Code login');
    expect(await providerExists('wrong-type')).toBe(false);
  });
});

describe('provider create --from-claude-login: rollback', () => {
  it('deletes the provider when configuring refresh fails, and says so', async () => {
    const proxy = await startFaultProxy(gw.url, [
      { method: 'PUT', path: /^\/v1\/providers\/[^/]+\/refresh$/, status: 503, code: 'injected_failure', message: 'injected: refresh store unavailable' },
    ]);
    try {
      const login = fakes.tokens.issueLogin();
      const dir = claudeDir();
      await writeClaudeCredentials(dir, login);
      const run = await runCli(['provider', 'create', '--name', 'rb-configure', '--type', 'claude-plan', '--from-claude-login', ...baseUrlConfig()], {
        env: envWith({ CLAUDE_CONFIG_DIR: dir, OPENSHELL_GATEWAY_URL: proxy.url, OPENSHELL_ADMIN_TOKEN: await gw.adminToken() }),
      });
      expect(run.code).toBe(1);
      expect(proxy.injected).toEqual(['PUT /v1/providers/rb-configure/refresh']);
      expect(run.stderr).toContain("failed to configure refresh for provider 'rb-configure': injected: refresh store unavailable");
      expect(run.stderr).toContain('The provider was rolled back (deleted)');
      expect(run.stderr).not.toContain(OWNERSHIP_WARNING);
      expect(await providerExists('rb-configure')).toBe(false);
      expect(fakes.tokens.isRefreshTokenValid(login.refreshToken as string)).toBe(true);
      await expectNoSecret(run, [login.accessToken, login.refreshToken as string]);
    } finally {
      await proxy.close();
    }
  });

  it('deletes the provider when verification fails (the upstream rejects the token)', async () => {
    // A token the fake Anthropic never issued: the probe gets 401.
    const login = { accessToken: `sk-ant-oat01-unknown-${Date.now()}-xxxxxxxxxxxxxxxx`, refreshToken: `sk-ant-ort01-unknown-${Date.now()}-yyyyyyyy`, expiresAt: Date.now() + 3_600_000 };
    const dir = claudeDir();
    await writeClaudeCredentials(dir, login);
    const calls = fakes.tokens.calls.length;
    const run = await runCli(['provider', 'create', '--name', 'rb-verify', '--type', 'claude-plan', '--from-claude-login', ...baseUrlConfig()], {
      env: envWith({ CLAUDE_CONFIG_DIR: dir }),
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("failed to verify the credential for provider 'rb-verify'");
    expect(run.stderr).toContain("rejected the credential of provider 'rb-verify' with 401");
    expect(run.stderr).toContain('--no-verify');
    expect(run.stderr).toContain('The provider was rolled back (deleted)');
    expect(await providerExists('rb-verify')).toBe(false);
    expect(fakes.tokens.calls.length).toBe(calls);
    await expectNoSecret(run, [login.accessToken, login.refreshToken]);
  });

  it('says the rollback failed, and what to run, when the delete fails too', async () => {
    const proxy = await startFaultProxy(gw.url, [
      { method: 'DELETE', path: /^\/v1\/providers\/rb-stuck$/, status: 500, code: 'injected_failure', message: 'injected: delete failed' },
    ]);
    try {
      const login = { accessToken: `sk-ant-oat01-unknown-stuck-${Date.now()}-zzzzzzzz`, refreshToken: `sk-ant-ort01-unknown-stuck-${Date.now()}`, expiresAt: Date.now() + 3_600_000 };
      const dir = claudeDir();
      await writeClaudeCredentials(dir, login);
      const run = await runCli(['provider', 'create', '--name', 'rb-stuck', '--type', 'claude-plan', '--from-claude-login', ...baseUrlConfig()], {
        env: envWith({ CLAUDE_CONFIG_DIR: dir, OPENSHELL_GATEWAY_URL: proxy.url, OPENSHELL_ADMIN_TOKEN: await gw.adminToken() }),
      });
      expect(run.code).toBe(1);
      expect(proxy.injected).toEqual(['DELETE /v1/providers/rb-stuck']);
      expect(run.stderr).toContain("Failed to clean up provider 'rb-stuck'");
      expect(run.stderr).toContain('Cleanup also failed, so the provider may still exist');
      expect(run.stderr).toContain('Run `openshell provider delete rb-stuck --force`');
      expect(await providerExists('rb-stuck')).toBe(true);
      await expectNoSecret(run, [login.accessToken, login.refreshToken]);
      // The advice works.
      const del = await runCli(['provider', 'delete', 'rb-stuck', '--force'], { env: home.env });
      expect(del.code, del.stderr).toBe(0);
      expect(await providerExists('rb-stuck')).toBe(false);
    } finally {
      await proxy.close();
    }
  });
});

describe('provider create --oauth-login', () => {
  it('runs PKCE against the profile endpoints: prints the URL, reads code#state, exchanges with the verifier', async () => {
    let pasted = false;
    const run = await runCli(['provider', 'create', '--name', 'own-login', '--type', 'claude-plan', '--oauth-login', ...baseUrlConfig(), '-o', 'json'], {
      env: home.env,
      onStderr: (text, stdin) => {
        const m = /(http:\/\/127\.0\.0\.1:\d+\/oauth\/authorize\?\S+)/.exec(text);
        if (m?.[1] && !pasted) {
          pasted = true;
          const approval = fakes.tokens.approve(m[1]);
          stdin.end(`${approval.paste}\n`);
        }
      },
    });
    expect(run.code, run.stderr).toBe(0);
    const authorization = fakes.tokens.authorizations.at(-1);
    expect(authorization).toMatchObject({ used: true, redirectUri: 'https://platform.claude.com/oauth/code/callback' });
    const url = new URL(/(http:\/\/127\.0\.0\.1:\d+\/oauth\/authorize\?\S+)/.exec(run.stderr)?.[1] ?? '');
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('scope')).toContain('user:inference');
    const out = json<HarvestJson>(run);
    expect(out.source).toEqual({ kind: 'oauth-login' });
    expect(out.refresh.status).toBe('configured');
    expect(out.verification.performed).toBe(true);
    expect(out.warnings).toEqual([]);
    expect(run.stderr).not.toContain('share one rotating refresh token');
    // The gateway owns a working refresh token of its own lineage.
    const rotations = fakes.tokens.rotations;
    const rotate = await runCli(['provider', 'refresh', 'rotate', 'own-login', '-o', 'json'], { env: home.env });
    expect(rotate.code, rotate.stderr).toBe(0);
    expect(json<RefreshOut>(rotate).refresh.status).toBe('refreshed');
    expect(fakes.tokens.rotations).toBe(rotations + 1);
    // The exchange's tokens never appear anywhere the user or another process could see.
    const exchange = fakes.tokens.calls.find((c) => c.body.toString('utf8').includes('authorization_code'));
    const answer = exchange ? JSON.parse(exchange.body.toString('utf8')) : {};
    expect(answer.code_verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await expectNoSecret(run, [answer.code_verifier]);
  });

  it('refuses a pasted code whose state does not match, creating nothing', async () => {
    const calls = fakes.tokens.calls.length;
    const run = await runCli(['provider', 'create', '--name', 'own-bad-state', '--type', 'claude-plan', '--oauth-login'], {
      env: home.env,
      onStderr: (text, stdin) => {
        const m = /(http:\/\/127\.0\.0\.1:\d+\/oauth\/authorize\?\S+)/.exec(text);
        if (m?.[1] && stdin.writable) {
          const approval = fakes.tokens.approve(m[1]);
          stdin.end(`${approval.code}#not-the-state\n`);
        }
      },
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('the pasted state does not match this login attempt');
    expect(fakes.tokens.calls.length).toBe(calls);
    expect(await providerExists('own-bad-state')).toBe(false);
  });
});

describe('provider create --from-setup-token', () => {
  it('stores a token from stdin as a static credential (no refresh)', async () => {
    const login = fakes.tokens.issueLogin({ withRefreshToken: false, scopes: ['user:inference'] });
    const run = await runCli(['provider', 'create', '--name', 'setup-stdin', '--type', 'claude-plan', '--from-setup-token', ...baseUrlConfig(), '-o', 'json'], {
      env: home.env,
      stdin: `${login.accessToken}\n`,
    });
    expect(run.code, run.stderr).toBe(0);
    const out = json<HarvestJson>(run);
    expect(out.source).toEqual({ kind: 'setup-token', from: 'stdin' });
    expect(out.refresh).toBeNull();
    expect(out.provider.credentialExpiresAt).toEqual({});
    expect(out.verification.performed).toBe(true);
    const status = await runCli(['provider', 'refresh', 'status', 'setup-stdin', '-o', 'json'], { env: home.env });
    expect(json<RefreshStatusOut>(status).credentials).toEqual([]);
    await expectNoSecret(run, [login.accessToken]);
  });

  it('reads CLAUDE_CODE_OAUTH_TOKEN and checks the sk-ant-oat01- shape', async () => {
    const login = fakes.tokens.issueLogin({ withRefreshToken: false });
    const ok = await runCli(['provider', 'create', '--name', 'setup-env', '--type', 'claude-plan', '--from-setup-token', ...baseUrlConfig()], {
      env: envWith({ CLAUDE_CODE_OAUTH_TOKEN: login.accessToken }),
    });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('✓ Created provider setup-env (anthropic-oauth) from CLAUDE_CODE_OAUTH_TOKEN');
    expect(ok.stdout).toContain('Refresh: none');
    await expectNoSecret(ok, [login.accessToken]);

    const bad = await runCli(['provider', 'create', '--name', 'setup-bad', '--type', 'claude-plan', '--from-setup-token'], {
      env: home.env,
      stdin: 'sk-ant-ort01-this-is-a-refresh-token\n',
    });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('is a refresh token, not an access token');
    expect(await providerExists('setup-bad')).toBe(false);
  });
});

describe('provider update --from-claude-login (the path out of reauth_required)', () => {
  it('re-harvests a new login into the provider and refresh works again', async () => {
    const first = fakes.tokens.issueLogin();
    const dir = claudeDir();
    await writeClaudeCredentials(dir, first);
    const env = envWith({ CLAUDE_CONFIG_DIR: dir });
    const created = await runCli(['provider', 'create', '--name', 'relogin', '--type', 'claude-plan', '--from-claude-login', ...baseUrlConfig()], { env });
    expect(created.code, created.stderr).toBe(0);

    // The host's Claude Code refreshed first: the gateway's copy of the refresh token is dead.
    fakes.tokens.revokeRefreshToken(first.refreshToken as string);
    const failed = await runCli(['provider', 'refresh', 'rotate', 'relogin'], { env });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('openshell provider update relogin --from-claude-login');
    const status = await runCli(['provider', 'refresh', 'status', 'relogin', '-o', 'json'], { env });
    expect(json<RefreshStatusOut>(status).credentials[0]?.status).toBe('reauth_required');

    // The user logs in again; the update re-harvests.
    const second = fakes.tokens.issueLogin();
    await writeClaudeCredentials(dir, second);
    const updated = await runCli(['provider', 'update', 'relogin', '--from-claude-login', '-o', 'json'], { env });
    expect(updated.code, updated.stderr).toBe(0);
    const out = json<HarvestJson>(updated);
    expect(out.refresh.status).toBe('configured');
    expect(out.provider.fingerprints.ANTHROPIC_OAUTH_TOKEN).toBe(fingerprintSecret(second.accessToken));
    expect(out.verification.performed).toBe(true);
    expect(updated.stderr).toContain(OWNERSHIP_WARNING);
    const rotate = await runCli(['provider', 'refresh', 'rotate', 'relogin'], { env });
    expect(rotate.code, rotate.stderr).toBe(0);
    await expectNoSecret(updated, [first.accessToken, second.accessToken, second.refreshToken as string]);
  });
});

describe('provider refresh configure | status | rotate | delete', () => {
  it('configures refresh from stdin and from an env var, rotates, and deletes it; nothing secret leaks', async () => {
    const login = fakes.tokens.issueLogin();
    const created = await runCli(['provider', 'create', '--name', 'manual', '--type', 'claude-plan', '--from-setup-token', '--no-verify'], {
      env: envWith({ CLAUDE_CODE_OAUTH_TOKEN: login.accessToken }),
    });
    expect(created.code, created.stderr).toBe(0);

    const configure = await runCli(['provider', 'refresh', 'configure', 'manual', '--expires-at', String(login.expiresAt), '-o', 'json'], {
      env: home.env,
      stdin: `${login.refreshToken}\n`,
    });
    expect(configure.code, configure.stderr).toBe(0);
    expect(json<RefreshOut>(configure).refresh).toMatchObject({ credentialKey: 'ANTHROPIC_OAUTH_TOKEN', status: 'configured', expiresAt: login.expiresAt });

    const table = await runCli(['provider', 'refresh', 'status', 'manual'], { env: home.env });
    expect(table.stdout).toMatch(/ANTHROPIC_OAUTH_TOKEN\s+configured/);

    const rotate = await runCli(['provider', 'refresh', 'rotate', 'manual'], { env: home.env });
    expect(rotate.code, rotate.stderr).toBe(0);
    expect(rotate.stdout).toContain('✓ Rotated ANTHROPIC_OAUTH_TOKEN of provider manual');
    expect(fakes.tokens.isRefreshTokenValid(login.refreshToken as string)).toBe(false);

    // Reconfigure from an environment variable (the value never on the command line).
    const next = fakes.tokens.issueLogin();
    const fromEnv = await runCli(['provider', 'refresh', 'configure', 'manual', '--refresh-token-env', 'MY_RT'], {
      env: envWith({ MY_RT: next.refreshToken }),
    });
    expect(fromEnv.code, fromEnv.stderr).toBe(0);
    const unset = await runCli(['provider', 'refresh', 'configure', 'manual', '--refresh-token-env', 'NOT_SET'], { env: home.env });
    expect(unset.code).toBe(1);
    expect(unset.stderr).toContain('the environment variable NOT_SET is not set or empty');

    const del = await runCli(['provider', 'refresh', 'delete', 'manual', '-o', 'json'], { env: home.env });
    expect(json(del)).toEqual({ deleted: true, provider: 'manual' });
    const status = await runCli(['provider', 'refresh', 'status', 'manual', '-o', 'json'], { env: home.env });
    expect(json<RefreshStatusOut>(status)).toEqual({ provider: 'manual', credentials: [] });
    for (const run of [created, configure, table, rotate, fromEnv, del, status]) {
      await expectNoSecret(run, [login.accessToken, login.refreshToken as string, next.refreshToken as string]);
    }
  });
});

describe('provider update --oauth-login', () => {
  it('replaces a shared login with a lineage of the gateway own', async () => {
    const login = fakes.tokens.issueLogin();
    const dir = claudeDir();
    await writeClaudeCredentials(dir, login);
    const env = envWith({ CLAUDE_CONFIG_DIR: dir });
    const created = await runCli(['provider', 'create', '--name', 'switch', '--type', 'claude-plan', '--from-claude-login', ...baseUrlConfig()], { env });
    expect(created.code, created.stderr).toBe(0);
    let pasted = false;
    const updated = await runCli(['provider', 'update', 'switch', '--oauth-login', '-o', 'json'], {
      env,
      onStderr: (text, stdin) => {
        const m = /(http:\/\/127\.0\.0\.1:\d+\/oauth\/authorize\?\S+)/.exec(text);
        if (m?.[1] && !pasted) {
          pasted = true;
          stdin.end(`${fakes.tokens.approve(m[1]).paste}\n`);
        }
      },
    });
    expect(updated.code, updated.stderr).toBe(0);
    const out = json<HarvestJson>(updated);
    expect(out.source).toEqual({ kind: 'oauth-login' });
    expect(out.refresh?.status).toBe('configured');
    expect(out.provider.fingerprints.ANTHROPIC_OAUTH_TOKEN).not.toBe(fingerprintSecret(login.accessToken));
    expect(out.warnings).toEqual([]);
    // The host's refresh token is no longer the gateway's: rotating spends only the new lineage.
    const rotate = await runCli(['provider', 'refresh', 'rotate', 'switch'], { env });
    expect(rotate.code, rotate.stderr).toBe(0);
    expect(fakes.tokens.isRefreshTokenValid(login.refreshToken as string)).toBe(true);
  });
});
