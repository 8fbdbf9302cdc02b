import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { canaryScan, headerValues, OAUTH_BETA } from '@openshell/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IsolationMode } from './isolation.js';
import { resolveIsolation } from './isolation.js';
import { anthropicOauthRoute, type Harness, startHarness } from './testing-fixtures/harness.js';

// The real Claude Code binary (~370 MB) is not installed by default; e2e caches it. Point
// OPENSHELL_CLAUDE_CODE_BIN at `.../claude-code-linux-x64/claude` to run these checks.
const CLAUDE_BIN = process.env.OPENSHELL_CLAUDE_CODE_BIN;
const available = CLAUDE_BIN !== undefined && existsSync(CLAUDE_BIN);
if (!available) console.log('[supervisor] real Claude Code checks skipped: set OPENSHELL_CLAUDE_CODE_BIN to the claude binary to run them');
const bwrap = await resolveIsolation('bwrap').then(
  () => true,
  () => false,
);

const modes: Array<Exclude<IsolationMode, 'auto'>> = bwrap ? ['none', 'bwrap'] : ['none'];

describe.skipIf(!available).each(modes)('real Claude Code behind the supervisor (isolation %s)', (isolation) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ isolation });
    await mkdir(join(h.workspace, 'home'), { recursive: true });
    await writeFile(join(h.workspace, 'home', '.claude.json'), JSON.stringify({ hasCompletedOnboarding: true }));
  });
  afterAll(async () => {
    await h?.close();
  });

  it('OAuth mode with the placeholder token: the boundary swaps in the real one', { timeout: 120_000 }, async () => {
    h.api.reset();
    const res = await h.run([CLAUDE_BIN as string, '-p', 'Say hello'], { bind: [dirname(CLAUDE_BIN as string)] });
    expect(res.stdout?.trim()).toBe('You said: Say hello');
    expect(res.exitCode).toBe(0);
    const call = h.api.requests.find((r) => r.path === '/v1/messages' && r.status === 200);
    expect(call).toBeDefined();
    if (call === undefined) return;
    expect(headerValues(call, 'authorization')).toEqual([`Bearer ${h.upstreamToken}`]);
    expect(headerValues(call, 'anthropic-beta')).toHaveLength(1);
    expect(headerValues(call, 'anthropic-beta')[0]?.split(',')).toContain(OAUTH_BETA);
    expect(await canaryScan([{ path: join(h.workspace, 'home') }, h.logs.join('')], [h.upstreamToken, h.sandboxToken])).toEqual([]);
  });

  it('API-key mode (ANTHROPIC_API_KEY=unused): x-api-key dropped, bearer and oauth beta added', { timeout: 120_000 }, async () => {
    const route = anthropicOauthRoute({ baseUrl: `${h.api.url}/v1`, token: h.upstreamToken });
    h.gateway.setBundle({ routes: [{ ...route, clientEnv: { ANTHROPIC_BASE_URL: 'https://inference.local', ANTHROPIC_API_KEY: 'unused', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' } }], egress: [] });
    h.api.reset();
    const res = await h.run([CLAUDE_BIN as string, '-p', 'Say hello'], { bind: [dirname(CLAUDE_BIN as string)] });
    expect(res.stdout?.trim()).toBe('You said: Say hello');
    const call = h.api.requests.find((r) => r.path === '/v1/messages' && r.status === 200);
    expect(call?.url).toBe('/v1/messages?beta=true');
    if (call === undefined) return;
    expect(headerValues(call, 'x-api-key')).toEqual([]);
    expect(headerValues(call, 'authorization')).toEqual([`Bearer ${h.upstreamToken}`]);
    const betas = headerValues(call, 'anthropic-beta');
    expect(betas).toHaveLength(1);
    expect(betas[0]?.split(',').filter((b) => b === OAUTH_BETA)).toHaveLength(1);
  });
});
