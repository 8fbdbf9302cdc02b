// The gateway goes away and comes back while a supervisor serves traffic: the supervisor keeps
// serving with its current bundle (the upstream does not need the gateway), never uses a credential
// past its expiry (fails closed with a clear error instead), and resumes sync by itself once the
// gateway is back, so a credential changed after the restart is used without restarting anything.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lines } from './attacks.js';
import { type ProxyAnswer, viaProxy } from './proxy-client.js';
import { type HostileSystem, messagesBody, startSystem } from './system.js';

let sys: HostileSystem;
const tally = { restarts: 0, requests: 0 };

beforeAll(async () => {
  sys = await startSystem();
});

afterAll(async () => {
  await sys?.close();
  console.log(`[hostile] gateway restarts under traffic: ${tally.restarts}, requests served meanwhile: ${tally.requests}`);
});

/** Sends mixed streaming / JSON requests back to back until `stop` resolves; returns every answer. */
async function traffic(stop: Promise<unknown>): Promise<Array<ProxyAnswer & { at: number }>> {
  let stopped = false;
  void stop.then(() => {
    stopped = true;
  });
  const answers: Array<ProxyAnswer & { at: number }> = [];
  const worker = async (stream: boolean) => {
    for (let i = 0; i < 2_000 && !stopped; i++) {
      const at = Date.now();
      const a = await viaProxy(sys.supervisor!, { body: messagesBody(`restart ${i}`, stream ? { stream: true } : {}), deadlineMs: 20_000 });
      answers.push({ ...a, at });
      tally.requests++;
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await Promise.all([worker(false), worker(true), worker(false)]);
  return answers;
}

async function providerVersion(): Promise<number> {
  const r = await sys.admin('GET', '/v1/providers/claude-plan');
  return r.json.resourceVersion as number;
}

describe('gateway restarts under traffic', () => {
  it('a down gateway does not interrupt traffic; after it is back a new credential is used without any restart', async () => {
    const stop = (async () => {
      await new Promise((r) => setTimeout(r, 500));
      await sys.restartGateway(2_500);
      tally.restarts++;
      await new Promise((r) => setTimeout(r, 500));
    })();
    const answers = await traffic(stop);
    expect(answers.length).toBeGreaterThan(20);
    const failed = answers.filter((a) => a.status !== 200 || !a.complete);
    expect(failed.map((a) => `${a.status} ${a.error ?? ''} ${a.body.toString().slice(0, 120)}`), 'requests failed while the gateway restarted').toEqual([]);

    // Rotate at the restarted gateway: the supervisor's long-poll must find it by itself.
    const rotated = `sk-ant-oat01-restart-${randomBytes(12).toString('hex')}`;
    sys.api.ledger.allow(rotated);
    const patched = await sys.admin('PATCH', '/v1/providers/claude-plan', { resourceVersion: await providerVersion(), credentials: { ANTHROPIC_OAUTH_TOKEN: rotated } });
    expect(patched.status).toBe(200);
    let used: string | undefined;
    for (let i = 0; i < 100 && used !== `Bearer ${rotated}`; i++) {
      const before = sys.api.requestCount;
      const a = await viaProxy(sys.supervisor!, { body: messagesBody('after restart') });
      expect(a.status, a.body.toString()).toBe(200);
      used = lines(sys.api.requests[before]!, 'authorization')[0];
      if (used !== `Bearer ${rotated}`) await new Promise((r) => setTimeout(r, 100));
    }
    expect(used, 'the supervisor never picked up the credential set after the restart').toBe(`Bearer ${rotated}`);
    expect(sys.supervisor?.exited()).toBe(false);
    // Restore for the next test.
    sys.api.ledger.allow(sys.upstreamToken);
    await sys.admin('PATCH', '/v1/providers/claude-plan', { resourceVersion: await providerVersion(), credentials: { ANTHROPIC_OAUTH_TOKEN: sys.upstreamToken } });
  }, 90_000);

  it('while the gateway is down past the credential expiry, the supervisor fails closed with a clear error and never sends the expired credential', async () => {
    // Beyond the supervisor's 5 s safety margin, so the first seconds are still served.
    const expiresAt = Date.now() + 8_000;
    const patched = await sys.admin('PATCH', '/v1/providers/claude-plan', { resourceVersion: await providerVersion(), credentialExpiresAt: { ANTHROPIC_OAUTH_TOKEN: expiresAt } });
    expect(patched.status).toBe(200);
    // Wait until the supervisor has adopted the bundle carrying the expiry (its log names the revision).
    const res = await fetch(`http://127.0.0.1:${sys.gatewayPort}/v1/sandbox/bundle`, { headers: { authorization: `Bearer ${sys.sandboxToken}` } });
    const revision = ((await res.json()) as { revision: string }).revision;
    for (let i = 0; i < 200 && !sys.supervisor!.logs.some((l) => l.includes('route bundle updated') && l.includes(revision)); i++) await new Promise((r) => setTimeout(r, 25));
    expect(sys.supervisor!.logs.some((l) => l.includes(revision)), 'the supervisor never adopted the bundle with the expiry').toBe(true);
    await sys.gw.close();
    tally.restarts++;
    const before = sys.api.requestCount;
    const answers: Array<ProxyAnswer & { at: number }> = [];
    for (let i = 0; i < 150; i++) {
      const at = Date.now();
      answers.push({ ...(await viaProxy(sys.supervisor!, { body: messagesBody(`expiry ${i}`), deadlineMs: 20_000 })), at });
      tally.requests++;
      if (at > expiresAt + 1_500) break;
      await new Promise((r) => setTimeout(r, 150));
    }
    const upstreamAfterExpiry = sys.api.requests.slice(before).filter((r) => r.receivedAt >= expiresAt);
    expect(upstreamAfterExpiry, 'the expired credential was sent upstream').toEqual([]);
    const early = answers.filter((a) => a.at + a.ms < expiresAt - 5_500);
    for (const a of early) expect(a.status).toBe(200);
    expect(early.length, 'requests before the expiry margin were not tried').toBeGreaterThan(0);
    const late = answers.filter((a) => a.at > expiresAt);
    expect(late.length).toBeGreaterThan(0);
    for (const a of late) {
      expect(a.status).toBeGreaterThanOrEqual(400);
      expect(a.status).toBeLessThan(600);
      const json = JSON.parse(a.body.toString()) as { type: string; error: { message: string } };
      expect(json.type).toBe('error');
      expect(json.error.message).toMatch(/expired/);
      expect(json.error.message).not.toContain(sys.upstreamToken);
    }
    // Back up with a fresh credential and expiry: the supervisor resumes by itself.
    await sys.restartGateway();
    const fresh = `sk-ant-oat01-fresh-${randomBytes(12).toString('hex')}`;
    sys.api.ledger.allow(fresh);
    const back = await sys.admin('PATCH', '/v1/providers/claude-plan', {
      resourceVersion: await providerVersion(),
      credentials: { ANTHROPIC_OAUTH_TOKEN: fresh },
      credentialExpiresAt: { ANTHROPIC_OAUTH_TOKEN: Date.now() + 3_600_000 },
    });
    expect(back.status).toBe(200);
    let ok: ProxyAnswer | undefined;
    for (let i = 0; i < 100; i++) {
      const a = await viaProxy(sys.supervisor!, { body: messagesBody('resumed') });
      if (a.status === 200) {
        ok = a;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(ok?.status, 'the supervisor did not resume after the gateway came back').toBe(200);
    expect(lines(sys.api.requests[sys.api.requests.length - 1]!, 'authorization')).toEqual([`Bearer ${fresh}`]);
    expect(sys.supervisor?.exited()).toBe(false);
  }, 90_000);
});
