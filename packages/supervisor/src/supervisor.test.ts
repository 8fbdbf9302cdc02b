import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { headerValues, waitUntil } from '@openshell/testing';
import { describe, expect, it } from 'vitest';
import { boundarySuite } from './testing-fixtures/boundary-suite.js';
import { anthropicOauthRoute } from './testing-fixtures/fake-gateway.js';

const STREAM_THEN_CALL = fileURLToPath(new URL('./testing-fixtures/stream-then-call.mjs', import.meta.url));

describe('runSupervisor with --isolation none', () => {
  const { harness } = boundarySuite('none');

  it('reauth_required at the gateway: the client gets a 401 naming the fix, and the dead credential is not sent again', async () => {
    const h = harness();
    const dead = `${h.upstreamToken}-dead`;
    h.api.ledger.allow(dead);
    h.api.ledger.revoke(dead);
    h.gateway.setBundle({ routes: [anthropicOauthRoute({ baseUrl: `${h.api.url}/v1`, token: dead })], egress: [] });
    h.gateway.onRejected(() => undefined);
    h.gateway.setRejectedResult('reauth_required');
    h.api.reset();
    const curl = (n: number) =>
      `curl -sS -D ${'$TMPDIR'}/h${n} -w '\\n%{http_code}\\n' https://inference.local/v1/models -H 'anthropic-version: 2023-06-01'; grep -i '^x-openshell-error' ${'$TMPDIR'}/h${n}`;
    const res = await h.run(['sh', '-c', `${curl(1)}; ${curl(2)}`]);
    h.gateway.setRejectedResult(undefined);
    h.gateway.setBundle({ routes: [anthropicOauthRoute({ baseUrl: `${h.api.url}/v1`, token: h.upstreamToken })], egress: [] });
    const lines = (res.stdout ?? '').split('\n').filter((l) => l !== '');
    const [body1, status1, header1, body2, status2, header2] = lines;
    for (const [body, status, header] of [
      [body1, status1, header1],
      [body2, status2, header2],
    ]) {
      expect(status).toBe('401');
      expect(header?.trim().toLowerCase()).toBe('x-openshell-error: reauth_required');
      const parsed = JSON.parse(body ?? '') as { type: string; error: { type: string; message: string } };
      expect(parsed.type).toBe('error');
      expect(parsed.error.type).toBe('authentication_error');
      expect(parsed.error.message).toMatch(/provider 'claude-plan' needs re-authorization: .*openshell provider update claude-plan --from-claude-login/);
    }
    // Only the first request reached the upstream; the second was refused at the boundary.
    expect(h.api.requests.map((r) => headerValues(r, 'authorization'))).toEqual([[`Bearer ${dead}`]]);
  });

  it('several runs of one sandbox at once each get their own proxy and run directory', async () => {
    const h = harness();
    h.api.reset();
    const runs = await Promise.all(
      [1, 2, 3].map((n) => h.run(['curl', '-sS', '--fail-with-body', `http://inference.local/v1/models?run=${n}`, '-H', 'anthropic-version: 2023-06-01'])),
    );
    expect(runs.map((r) => r.exitCode)).toEqual([0, 0, 0]);
    expect(new Set(runs.map((r) => r.ready?.runDir)).size).toBe(3);
    expect(new Set(runs.map((r) => r.ready?.childEnv.HTTP_PROXY)).size).toBe(3);
    expect(h.api.requests.map((r) => r.url).sort()).toEqual(['/v1/models?run=1', '/v1/models?run=2', '/v1/models?run=3']);
  });

  it('OPENSHELL_PROXY_FAST_PATH=off serves inference with node:http and undici alone, with the same result', async () => {
    const h = harness();
    const curl = ['curl', '-sS', '-i', '--fail-with-body', 'http://inference.local/v1/models', '-H', 'anthropic-version: 2023-06-01'];
    h.api.reset();
    const before = h.logs.length;
    const fast = await h.run(curl);
    const slow = await h.run(curl, { env: { ...process.env, OPENSHELL_PROXY_FAST_PATH: 'off' } });
    for (const res of [fast, slow]) {
      expect(res.exitCode).toBe(0);
      expect(res.stdout).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(res.stdout).toContain('claude-haiku-4-5');
    }
    // node:http announces its keep-alive time on every kept-alive answer; the lean front does not.
    expect(fast.stdout).not.toMatch(/^keep-alive: timeout=/im);
    expect(slow.stdout).toMatch(/^keep-alive: timeout=30/im);
    expect(h.api.requests.map((r) => headerValues(r, 'authorization'))).toEqual([[`Bearer ${h.upstreamToken}`], [`Bearer ${h.upstreamToken}`]]);
    const logged = h.logs.slice(before).join('');
    expect(logged.match(/proxy fast path off/g)).toHaveLength(1);
  });

  it('a command that cannot be started is a child_spawn_failed error, and nothing is left behind', async () => {
    const h = harness();
    const err = await h.run(['openshell-no-such-command-xyz']).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'child_spawn_failed', message: expect.stringContaining('openshell-no-such-command-xyz') });
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(`${h.workspace}/runs`)).toEqual([]);
  });

  it('a long stream never blocks a rotation: a request during the stream uses the new credential, the stream finishes on the old one', async () => {
    const h = harness();
    const tmp = join(h.workspace, 'tmp');
    await mkdir(tmp, { recursive: true });
    for (const f of ['streaming', 'go', 'call-done']) await rm(join(tmp, f), { force: true });
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => {
      release = r;
    });
    h.api.configure({
      stream: {
        deltas: 4,
        beforeEvent: async (e) => {
          // Hold the long stream after its first text delta until the test lets it go.
          if (e.request.body.includes('long-stream') && e.name === 'content_block_delta' && e.index > 3) await held;
        },
      },
    });
    const rotated = `${h.upstreamToken}-during-stream`;
    h.api.ledger.allow(rotated);
    h.api.reset();
    h.logs.length = 0;
    const running = h.run([process.execPath, STREAM_THEN_CALL]);
    await waitUntil(() => existsSync(join(tmp, 'streaming')), 'the stream to start');
    h.gateway.setBundle({ routes: [anthropicOauthRoute({ baseUrl: `${h.api.url}/v1`, token: rotated })], egress: [] });
    await waitUntil(() => h.logs.some((l) => l.includes('route bundle updated')), 'the bundle update');
    await writeFile(join(tmp, 'go'), '');
    await waitUntil(() => existsSync(join(tmp, 'call-done')), 'the call during the stream');
    release();
    const res = await running;
    h.api.configure({ stream: {} });
    h.gateway.setBundle({ routes: [anthropicOauthRoute({ baseUrl: `${h.api.url}/v1`, token: h.upstreamToken })], egress: [] });
    expect(res.exitCode).toBe(0);
    expect(JSON.parse(res.stdout ?? '')).toEqual({ streamed: 'You said: long-stream', second: 'You said: during' });
    expect(h.api.requests.map((r) => headerValues(r, 'authorization'))).toEqual([[`Bearer ${h.upstreamToken}`], [`Bearer ${rotated}`]]);
  });
});
