import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSandboxCa } from './sandbox-ca.js';
import { assertSandboxName, defaultWorkspaceRoot, prepareWorkspace } from './workspace.js';

describe('defaultWorkspaceRoot', () => {
  it('follows XDG_DATA_HOME, else ~/.local/share', () => {
    expect(defaultWorkspaceRoot('dev', { XDG_DATA_HOME: '/data', HOME: '/h' })).toBe('/data/openshell/sandboxes/dev');
    expect(defaultWorkspaceRoot('dev', { HOME: '/h' })).toBe('/h/.local/share/openshell/sandboxes/dev');
  });

  it.each(['..', '../x', 'a/b', '', '.hidden', 'x'.repeat(64)])('refuses the sandbox name %j', (name) => {
    expect(() => assertSandboxName(name)).toThrow(/not valid/);
  });
});

describe('prepareWorkspace', () => {
  it('creates HOME, TMPDIR and a private run dir holding certificates only, and removes the run dir on cleanup', async () => {
    const root = await mkdtemp(join(tmpdir(), 'osh-ws-'));
    try {
      const ca = await createSandboxCa();
      const ws = await prepareWorkspace({ root, caCertPem: ca.certPem, runId: 'r1' });
      expect((await stat(ws.runDir)).mode & 0o777).toBe(0o700);
      expect(await readFile(ws.caCertFile, 'utf8')).toBe(ca.certPem);
      const bundle = await readFile(ws.caBundleFile, 'utf8');
      expect(bundle.endsWith(ca.certPem)).toBe(true);
      expect((bundle.match(/BEGIN CERTIFICATE/g) ?? []).length).toBeGreaterThan(10);
      expect(bundle).not.toContain('PRIVATE KEY');
      await ws.cleanup();
      expect(await readdir(join(root, 'runs'))).toEqual([]);
      expect((await stat(ws.home)).isDirectory()).toBe(true);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
