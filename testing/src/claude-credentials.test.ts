import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claudeCredentialsJson, writeClaudeCredentials } from './claude-credentials.js';

const LOGIN = {
  accessToken: 'sk-ant-oat01-access',
  refreshToken: 'sk-ant-ort01-refresh',
  expiresAt: 1_900_000_000_123,
  scopes: ['user:inference', 'user:profile'],
};

describe('writeClaudeCredentials', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'openshell-testing-creds-'));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('writes <dir>/.credentials.json with mode 0600 in Claude Code shape', async () => {
    const path = await writeClaudeCredentials(join(root, 'home', '.claude'), LOGIN);
    expect(path).toBe(join(root, 'home', '.claude', '.credentials.json'));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({
      claudeAiOauth: {
        accessToken: 'sk-ant-oat01-access',
        refreshToken: 'sk-ant-ort01-refresh',
        expiresAt: 1_900_000_000_123,
        scopes: ['user:inference', 'user:profile'],
        subscriptionType: 'max',
      },
    });
  });

  it('writes expiresAt in seconds, omits fields, adds extras and subscription type', async () => {
    const path = await writeClaudeCredentials(join(root, 'variant'), LOGIN, {
      expiresAtUnit: 's',
      omit: ['scopes'],
      subscriptionType: null,
      extra: { rateLimitTier: 'default_claude_max_5x' },
      withMcpOAuth: true,
    });
    const blob = JSON.parse(await readFile(path, 'utf8')) as { claudeAiOauth: Record<string, unknown>; mcpOAuth: unknown };
    expect(blob.claudeAiOauth).toEqual({
      accessToken: 'sk-ant-oat01-access',
      refreshToken: 'sk-ant-ort01-refresh',
      expiresAt: 1_900_000_000,
      subscriptionType: null,
      rateLimitTier: 'default_claude_max_5x',
    });
    expect(blob.mcpOAuth).toBeTypeOf('object');
  });

  it('produces an mcp-only blob and a refresh-less login', () => {
    expect(Object.keys(JSON.parse(claudeCredentialsJson(LOGIN, { mcpOnly: true })) as object)).toEqual(['mcpOAuth']);
    const { refreshToken: _unused, ...inferenceOnly } = LOGIN;
    const blob = JSON.parse(claudeCredentialsJson(inferenceOnly)) as { claudeAiOauth: Record<string, unknown> };
    expect('refreshToken' in blob.claudeAiOauth).toBe(false);
  });
});
