import { describe, expect, it } from 'vitest';
import { buildBwrapArgs, isHiddenPath, NAMESPACE_NODE, NAMESPACE_RELAY, outermostPaths, resolveIsolation, sandboxHostsFile } from './isolation.js';

describe('outermostPaths', () => {
  it('keeps only the outermost of nested paths, once each', () => {
    expect(outermostPaths(['/root/.local/share/openshell', '/root', '/tmp', '/root', '/tmpx'])).toEqual(['/tmp', '/root', '/tmpx']);
  });
});

describe('isHiddenPath', () => {
  it('is true under a hidden path unless a bound path brings it back', () => {
    expect(isHiddenPath('/root/project', ['/root'], [])).toBe(true);
    expect(isHiddenPath('/root/project/src', ['/root'], ['/root/project'])).toBe(false);
    expect(isHiddenPath('/rootless', ['/root'], [])).toBe(false);
    expect(isHiddenPath('/work/main', ['/root', '/tmp'], [])).toBe(false);
  });
});

describe('buildBwrapArgs', () => {
  const args = buildBwrapArgs({
    hide: ['/root', '/root/.config/openshell', '/srv/gateway'],
    bind: ['/root/.local/share/openshell/sandboxes/dev/home', '/root/.local/share/openshell/sandboxes/dev/tmp'],
    hostsFile: '/run-dir/hosts',
    relayScript: '/pkg/relay/netns-relay.mjs',
    nodeBinary: '/usr/bin/node',
    cwd: '/root/.local/share/openshell/sandboxes/dev/home',
    command: ['claude', '-p', 'hi'],
  });
  const pairs = (flag: string) => args.flatMap((a, i) => (a === flag ? [args[i + 1]] : []));

  it('starts from a read-only root with fresh /dev and /proc', () => {
    expect(args.slice(0, 7)).toEqual(['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc']);
  });

  it('hides /tmp, /run and the host paths under tmpfs before binding the sandbox directories back', () => {
    expect(pairs('--tmpfs')).toEqual(['/tmp', '/run', '/root', '/var/tmp', '/srv/gateway']);
    const lastTmpfs = args.lastIndexOf('--tmpfs');
    const firstBind = args.indexOf('--bind');
    expect(firstBind).toBeGreaterThan(lastTmpfs);
    expect(pairs('--bind')).toEqual(['/root/.local/share/openshell/sandboxes/dev/home', '/root/.local/share/openshell/sandboxes/dev/tmp']);
  });

  it('unshares pid, net and IPC, dies with the supervisor, and runs the relay with the command', () => {
    for (const flag of ['--unshare-pid', '--unshare-net', '--unshare-ipc', '--die-with-parent']) expect(args).toContain(flag);
    expect(args).not.toContain('--share-net');
    const sep = args.indexOf('--');
    expect(args.slice(sep)).toEqual(['--', NAMESPACE_NODE, NAMESPACE_RELAY, '--', 'claude', '-p', 'hi']);
    expect(args.join(' ')).toContain('--ro-bind /run-dir/hosts /etc/hosts');
  });
});

describe('buildBwrapArgs with user binds', () => {
  const args = buildBwrapArgs({
    hide: ['/srv/checkout/.tmp/home', '/srv/checkout/.tmp/data/openshell'],
    bind: ['/srv/checkout/.tmp/data/openshell/sandboxes/dev/home'],
    userReadOnly: ['/srv/checkout'],
    userBind: ['/work/project'],
    hostsFile: '/run-dir/hosts',
    relayScript: '/pkg/relay/netns-relay.mjs',
    nodeBinary: '/usr/bin/node',
    cwd: '/work/project',
    command: ['claude'],
  });
  const at = (...seq: string[]) => args.findIndex((_, i) => seq.every((s, j) => args[i + j] === s));

  it('binds what the user asked for, read-only or read-write', () => {
    expect(at('--ro-bind', '/srv/checkout', '/srv/checkout')).toBeGreaterThan(0);
    expect(at('--bind', '/work/project', '/work/project')).toBeGreaterThan(0);
  });

  it('hides the host paths again when a user bind is their parent, then binds the sandbox back', () => {
    const userBind = at('--ro-bind', '/srv/checkout', '/srv/checkout');
    const rehide = args.lastIndexOf('/srv/checkout/.tmp/home');
    expect(args[rehide - 1]).toBe('--tmpfs');
    expect(rehide).toBeGreaterThan(userBind);
    const rehideData = args.lastIndexOf('/srv/checkout/.tmp/data/openshell');
    expect(args[rehideData - 1]).toBe('--tmpfs');
    expect(at('--bind', '/srv/checkout/.tmp/data/openshell/sandboxes/dev/home')).toBeGreaterThan(rehideData);
  });
});

describe('sandboxHostsFile', () => {
  it('maps inference.local to the namespace loopback', () => {
    expect(sandboxHostsFile()).toMatch(/^127\.0\.0\.1\tinference\.local$/m);
  });
});

describe('resolveIsolation', () => {
  it('none is always none; auto off Linux is none; bwrap off Linux is a clear error', async () => {
    expect(await resolveIsolation('none')).toEqual({ mode: 'none' });
    expect(await resolveIsolation('auto', 'darwin')).toEqual({ mode: 'none' });
    await expect(resolveIsolation('bwrap', 'darwin')).rejects.toMatchObject({ code: 'isolation_unavailable', message: expect.stringContaining('--isolation none') });
  });

  it('bwrap without bwrap on PATH says how to install it', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await expect(resolveIsolation('bwrap', 'linux')).rejects.toMatchObject({ code: 'isolation_unavailable', message: expect.stringContaining('apt-get install bubblewrap') });
      expect(await resolveIsolation('auto', 'linux')).toEqual({ mode: 'none' });
    } finally {
      process.env.PATH = path;
    }
  });
});
