import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { access, constants, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { canary, canaryScan } from '@openshell/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveIsolation } from './isolation.js';
import { boundarySuite } from './testing-fixtures/boundary-suite.js';
import { ENV_DUMP, PACKAGE_DIR, SDK_CLIENT } from './testing-fixtures/harness.js';

const RUN_HARNESS = new URL('./testing-fixtures/run-harness.ts', import.meta.url).pathname;

async function findOnPath(name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const candidate = `${dir}/${name}`;
    if (await access(candidate, constants.X_OK).then(() => true, () => false)) return candidate;
  }
  return undefined;
}

const available = await resolveIsolation('bwrap').then(
  () => true,
  (err: unknown) => {
    // Visible in the test output: these tests need bubblewrap (apt-get install bubblewrap).
    console.warn(`[supervisor] skipping bwrap isolation tests: ${err instanceof Error ? err.message : String(err)}`);
    return false;
  },
);

describe.skipIf(!available)('runSupervisor with --isolation bwrap', () => {
  const { harness } = boundarySuite('bwrap');

  describe('containment', () => {
    let hostRoot: string;
    let hostHome: string;
    let dataHome: string;
    let listener: net.Server;
    let listenerPort = 0;
    const hostSecret = canary('host-claude-refresh-');
    const gatewaySecret = canary('gateway-db-');

    beforeAll(async () => {
      // Outside /tmp on purpose: /tmp is hidden anyway, so a host home there would prove nothing.
      await mkdir(join(PACKAGE_DIR, '.tmp'), { recursive: true });
      hostRoot = await mkdtemp(join(PACKAGE_DIR, '.tmp', 'host-'));
      hostHome = join(hostRoot, 'home');
      dataHome = join(hostRoot, 'data');
      await mkdir(join(hostHome, '.claude'), { recursive: true });
      await writeFile(join(hostHome, '.claude', '.credentials.json'), JSON.stringify({ claudeAiOauth: { refreshToken: hostSecret } }));
      await mkdir(join(dataHome, 'openshell', 'gateway'), { recursive: true });
      await writeFile(join(dataHome, 'openshell', 'gateway', 'gateway.db'), gatewaySecret);
      listener = net.createServer((s) => s.end('host-loopback-reached'));
      listener.listen(0, '127.0.0.1');
      await once(listener, 'listening');
      listenerPort = (listener.address() as AddressInfo).port;
    });
    afterAll(async () => {
      listener?.close();
      await rm(hostRoot, { recursive: true, force: true });
    });

    it("cannot read the host's ~/.claude or the gateway data dir, cannot see the supervisor, cannot reach host loopback", async () => {
      const h = harness();
      const credentials = join(hostHome, '.claude', '.credentials.json');
      const gatewayDb = join(dataHome, 'openshell', 'gateway', 'gateway.db');
      const res = await h.run([process.execPath, ENV_DUMP, JSON.stringify([credentials, gatewayDb]), JSON.stringify([listenerPort])], {
        env: { PATH: process.env.PATH ?? '', HOME: hostHome, XDG_DATA_HOME: dataHome },
      });
      expect(res.exitCode).toBe(0);
      const seen = JSON.parse(res.stdout ?? '') as {
        reads: Record<string, string>;
        connects: Record<string, string>;
        cmdlines: string[];
        pid: number;
      };
      // The files exist on the host (the supervisor process can read them) but not inside.
      expect(seen.reads[credentials]).toBe('ENOENT');
      expect(seen.reads[gatewayDb]).toBe('ENOENT');
      // A listener on the host's loopback is not reachable from the namespace.
      expect(seen.connects[String(listenerPort)]).toBe('ECONNREFUSED');
      // pid namespace: only the namespace's processes are visible, not the supervisor (this test process).
      expect(seen.cmdlines.some((c) => c.includes('vitest'))).toBe(false);
      expect(seen.cmdlines.length).toBeLessThanOrEqual(4);
      for (const c of seen.cmdlines) expect(c).toMatch(/bwrap|netns-relay\.mjs|env-dump\.mjs/);
      expect(await canaryScan([res.stdout ?? '', res.stderr ?? ''], [hostSecret, gatewaySecret, h.sandboxToken, h.upstreamToken])).toEqual([]);
    });
  });
});

/** True when we can run this package's files as user 65534 (root, setpriv, a world-readable checkout). */
async function canRunAsNobody(): Promise<boolean> {
  if (!available || process.getuid?.() !== 0 || (await findOnPath('setpriv')) === undefined) return false;
  const probe = `test -r ${RUN_HARNESS} && test -r ${PACKAGE_DIR}node_modules/tsx/package.json && test -w /tmp`;
  return promisify(execFile)('setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', 'sh', '-c', probe]).then(
    () => true,
    () => false,
  );
}
const canSwitchUser = await canRunAsNobody();
if (available && !canSwitchUser) console.log('[supervisor] skipping the unprivileged bwrap check: it needs root, setpriv and a checkout user 65534 can read');

describe.skipIf(!canSwitchUser)('bwrap run by an unprivileged user', () => {
  it('works without ports 80/443 in the namespace: curl via the proxy variables, the SDK via the fetch preload', { timeout: 60_000 }, async () => {
    const run = promisify(execFile);
    const { stdout } = await run(
      'setpriv',
      ['--reuid', '65534', '--regid', '65534', '--clear-groups', process.execPath, '--conditions=source', '--import', 'tsx', RUN_HARNESS, 'bwrap', 'sh', '-c', `curl -sS --fail-with-body https://inference.local/v1/models -H 'anthropic-version: 2023-06-01' >/dev/null && echo curl-ok; ${process.execPath} ${SDK_CLIENT} unprivileged`],
      { cwd: PACKAGE_DIR, env: { PATH: process.env.PATH ?? '', HOME: '/tmp' }, timeout: 50_000 },
    );
    const line = stdout.split('\n').find((l) => l.startsWith('RESULT ')) ?? '';
    const result = JSON.parse(line.slice('RESULT '.length)) as { exitCode: number; stdout: string; logs: string; upstream: number };
    expect(result.exitCode).toBe(0);
    expect(result.logs).toContain('bwrap runs unprivileged');
    const [curlLine, sdkLine] = result.stdout.trim().split('\n');
    expect(curlLine).toBe('curl-ok');
    expect(JSON.parse(sdkLine ?? '')).toMatchObject({ nonStreaming: { text: 'You said: unprivileged' }, streaming: { text: 'You said: unprivileged' } });
    expect(result.upstream).toBe(3);
  });
});
