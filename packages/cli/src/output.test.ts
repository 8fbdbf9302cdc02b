import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { colorEnabled, createOutput } from './output.js';

function sink(isTTY: boolean): NodeJS.WriteStream & { text: () => string } {
  const chunks: string[] = [];
  const w = new Writable({
    write(c: Buffer, _e, cb) {
      chunks.push(c.toString());
      cb();
    },
  }) as unknown as NodeJS.WriteStream & { text: () => string };
  Object.assign(w, { isTTY, text: () => chunks.join('') });
  return w;
}

describe('output', () => {
  it('decides colour from the flag, NO_COLOR, FORCE_COLOR and the TTY', () => {
    expect(colorEnabled(true, {}, { isTTY: true })).toBe(true);
    expect(colorEnabled(true, {}, { isTTY: false })).toBe(false);
    expect(colorEnabled(false, { FORCE_COLOR: '1' }, { isTTY: true })).toBe(false);
    expect(colorEnabled(true, { NO_COLOR: '1', FORCE_COLOR: '1' }, { isTTY: true })).toBe(false);
    expect(colorEnabled(true, { FORCE_COLOR: '1' }, { isTTY: false })).toBe(true);
  });

  it('puts results on stdout and progress/warnings on stderr; JSON mode prints no success line', async () => {
    const stdout = sink(false);
    const stderr = sink(false);
    const out = createOutput({ format: 'table', color: true, env: {}, stdout, stderr });
    out.success('done');
    out.warn('careful');
    out.info('working');
    const p = await out.progress('probing');
    p.succeed();
    expect(stdout.text()).toBe('✓ done\n');
    expect(stderr.text()).toBe('⚠ careful\nworking\nprobing\n');

    const jsonOut = sink(false);
    const j = createOutput({ format: 'json', color: true, env: {}, stdout: jsonOut, stderr: sink(false) });
    j.success('ignored');
    j.json({ a: 1 });
    expect(JSON.parse(jsonOut.text())).toEqual({ a: 1 });
  });
});
