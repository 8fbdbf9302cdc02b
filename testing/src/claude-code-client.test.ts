import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_SDK_IDENTITY, BILLING_HEADER_PREFIX, OAUTH_BETA } from './anthropic-contract.js';
import { createFakeAnthropic, type FakeAnthropic } from './fake-anthropic.js';
import { createFakeTokenEndpoint, type FakeTokenEndpoint } from './fake-token-endpoint.js';
import { headerValue, headerValues, jsonBody } from './loopback-server.js';

// The real Claude Code binary is large; e2e installs and caches it. Point this at it to check that the
// fakes accept what real Claude Code sends (e.g. OPENSHELL_CLAUDE_CODE_BIN=.../claude-code-linux-x64/claude).
const CLAUDE_BIN = process.env.OPENSHELL_CLAUDE_CODE_BIN;
const available = CLAUDE_BIN !== undefined && existsSync(CLAUDE_BIN);
if (!available) {
  console.log('[testing] real Claude Code check skipped: set OPENSHELL_CLAUDE_CODE_BIN to the claude binary to run it');
}

function runClaude(env: Record<string, string>): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(CLAUDE_BIN!, ['-p', 'Say hello'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.resume();
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout });
    });
  });
}

describe.skipIf(!available)('real Claude Code against the fakes', () => {
  let tokens: FakeTokenEndpoint;
  let api: FakeAnthropic;
  let home: string;
  beforeAll(async () => {
    tokens = await createFakeTokenEndpoint();
    api = await createFakeAnthropic({ tokenEndpoint: tokens });
    home = await mkdtemp(join(tmpdir(), 'openshell-testing-cc-'));
    await writeFile(join(home, '.claude.json'), JSON.stringify({ hasCompletedOnboarding: true }));
  });
  afterAll(async () => {
    await api.close();
    await tokens.close();
    await rm(home, { recursive: true, force: true });
  });

  it('passes the OAuth rules and the identity gate with CLAUDE_CODE_OAUTH_TOKEN', { timeout: 90_000 }, async () => {
    const login = tokens.issueLogin();
    const result = await runClaude({
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      ANTHROPIC_BASE_URL: api.url,
      CLAUDE_CODE_OAUTH_TOKEN: login.accessToken,
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    });
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe('You said: Say hello');
    const call = api.requests.find((request) => request.path === '/v1/messages' && request.status === 200)!;
    expect(call.url).toBe('/v1/messages?beta=true');
    expect(headerValue(call, 'authorization')).toBe(`Bearer ${login.accessToken}`);
    expect(headerValues(call, 'anthropic-beta')).toHaveLength(1);
    expect(headerValue(call, 'anthropic-beta')!.split(',')).toContain(OAUTH_BETA);
    const system = (jsonBody(call) as { system: Array<{ text: string }> }).system;
    expect(system[0]!.text.startsWith(BILLING_HEADER_PREFIX)).toBe(true);
    expect(system[1]!.text.startsWith(AGENT_SDK_IDENTITY)).toBe(true);
  });
});
