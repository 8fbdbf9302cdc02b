// The canary scan of the e2e suite must find what it looks for, or its "no leak" results mean nothing.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LeakWatch } from './leak-watch.js';

describe('LeakWatch', () => {
  it('finds a planted token in text, argv samples and files (raw and base64), and skips listed files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'openshell-e2e-leak-'));
    try {
      const token = 'sk-ant-oat01-planted-canary-0123456789';
      await mkdir(join(dir, 'home', '.cache'), { recursive: true });
      await writeFile(join(dir, 'home', '.cache', 'b64'), Buffer.from(`x:${token}`).toString('base64'));
      await writeFile(join(dir, 'home', 'skipped'), token);
      const watch = new LeakWatch();
      watch.secret('planted', token);
      watch.text('clean', 'nothing here');
      watch.cli({ args: ['sandbox', 'run', 'dev'], code: 0, stdout: `Bearer ${token}`, stderr: '', commandLines: [], environments: [] });
      watch.dir('workspace', dir, [join(dir, 'home', 'skipped')]);
      const leaks = await watch.scan();
      expect(leaks.map((l) => [l.secret, l.form, l.where.replace(dir, '<dir>')]).sort()).toEqual([
        ['planted', 'base64', '<dir>/home/.cache/b64'],
        ['planted', 'raw', 'openshell sandbox run dev (stdout)'],
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('flags OpenShell admin and sandbox token shapes wherever it looks', async () => {
    const watch = new LeakWatch();
    watch.text('child env dump', JSON.stringify({ SOME_VAR: 'oss_AAAAAAAAAAAAAAAAAAAAAAAA' }));
    watch.source('gateway log', () => 'token osa_BBBBBBBBBBBBBBBBBBBBBBBB');
    expect(await watch.scan()).toEqual([
      { secret: 'an OpenShell token (osa_/oss_)', where: 'child env dump', form: 'raw' },
      { secret: 'an OpenShell token (osa_/oss_)', where: 'gateway log', form: 'raw' },
    ]);
  });
});
