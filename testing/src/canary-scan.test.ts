import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canary, canaryScan } from './canary-scan.js';

const SECRET = 'sk-ant-oat01-CANARY_+/=value-0123456789';
const OTHER = 'sk-ant-ort01-other-canary-abcdef';

describe('canaryScan', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'openshell-testing-canary-'));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('finds nothing in clean haystacks', async () => {
    expect(await canaryScan(['nothing here', Buffer.from('sk-ant-oat01-'), { label: 'log', content: 'sk-ant-oat01-CANARY' }], [SECRET])).toEqual([]);
  });

  it('finds the raw secret in strings, buffers and labelled content', async () => {
    const hits = await canaryScan(['abc', `x ${SECRET} y`, Buffer.from(`z${OTHER}`), { label: 'stdout', content: SECRET }], [SECRET, OTHER]);
    expect(hits).toEqual([
      { secretIndex: 0, form: 'raw', where: 'haystack[1]', offset: 2 },
      { secretIndex: 1, form: 'raw', where: 'haystack[2]', offset: 1 },
      { secretIndex: 0, form: 'raw', where: 'stdout', offset: 0 },
    ]);
  });

  for (const lead of ['', 'a', 'ab', 'abc']) {
    it(`finds the secret inside larger base64 text (${lead.length} leading bytes)`, async () => {
      const encoded = Buffer.from(`${lead}${SECRET}trailing`).toString('base64');
      const hits = await canaryScan([encoded], [SECRET]);
      expect(hits.map((hit) => hit.form)).toContain('base64');
    });
  }

  it('finds base64url, URL-encoded, form-encoded and hex forms', async () => {
    const forms = async (text: string) => (await canaryScan([text], [SECRET])).map((hit) => hit.form);
    const slashy = 'sk-ant-oat01-???>>>???>>>-canary';
    const url = Buffer.from(slashy).toString('base64url');
    expect(url).not.toBe(Buffer.from(slashy).toString('base64').replace(/=+$/, ''));
    expect((await canaryScan([url], [slashy])).map((hit) => hit.form)).toContain('base64url');
    expect(await forms(`https://x.invalid/?t=${encodeURIComponent(SECRET)}`)).toContain('url-encoded');
    expect(await forms(new URLSearchParams({ t: SECRET }).toString())).toContain('url-encoded');
    expect(await forms(Buffer.from(SECRET).toString('hex'))).toContain('hex');
  });

  it('walks directories recursively, including file names, without following symlinks', async () => {
    const dir = join(root, 'sandbox');
    await mkdir(join(dir, 'a', 'b'), { recursive: true });
    await writeFile(join(dir, 'a', 'b', 'log.txt'), `line\nAuthorization: Bearer ${SECRET}\n`);
    await writeFile(join(dir, 'clean.txt'), 'nothing');
    await writeFile(join(dir, `name-${OTHER}`), 'x');
    const outside = join(root, 'outside.txt');
    await writeFile(outside, SECRET);
    await symlink(outside, join(dir, 'link'));
    const hits = await canaryScan([{ path: dir }], [SECRET, OTHER]);
    expect(hits).toEqual([
      { secretIndex: 0, form: 'raw', where: join(dir, 'a', 'b', 'log.txt'), offset: 27 },
      { secretIndex: 1, form: 'raw', where: `${join(dir, `name-${OTHER}`)} (name)`, offset: join(dir, 'name-').length },
    ]);
    expect(await canaryScan([{ path: outside }], [SECRET])).toHaveLength(1);
    expect(await canaryScan([{ path: join(root, 'missing') }], [SECRET])).toEqual([]);
  });

  it('never puts the secret in its result, and refuses too-short canaries', async () => {
    const hits = await canaryScan([SECRET], [SECRET]);
    expect(hits.length).toBeGreaterThan(0);
    expect(JSON.stringify(hits)).not.toContain(SECRET);
    await expect(canaryScan(['abc'], ['ab'])).rejects.toThrow(/shorter than 4 bytes/);
  });
});

describe('canary', () => {
  it('keeps the prefix and adds 24 random hex characters, different every time', () => {
    const a = canary('sk-ant-oat01-canary-');
    expect(a).toMatch(/^sk-ant-oat01-canary-[0-9a-f]{24}$/);
    expect(canary('sk-ant-oat01-canary-')).not.toBe(a);
  });
});
