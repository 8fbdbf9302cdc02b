import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCodesRaisedIn } from './error-codes.js';

describe('errorCodesRaisedIn', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'error-codes-'));
    await mkdir(join(dir, 'sub'));
    await mkdir(join(dir, 'testing-fixtures'));
    await writeFile(join(dir, 'a.ts'), "throw new FooError('first_code', 'x');\nthrow new FooError(\n  'second_code', 'y');\nnew BarError('other', 'z');\n");
    await writeFile(join(dir, 'a.test.ts'), "new FooError('from_a_test', 'x');\n");
    await writeFile(join(dir, 'sub', 'b.ts'), "new FooError('nested_code', 'x');\n");
    await writeFile(join(dir, 'testing-fixtures', 'c.ts'), "new FooError('fixture_code', 'x');\n");
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('collects the codes of one error class from sources, recursively, skipping tests and fixtures', () => {
    expect([...errorCodesRaisedIn(dir, 'FooError')].sort()).toEqual(['first_code', 'nested_code', 'second_code']);
  });

  it('reads only the top directory when recursive is false', () => {
    expect([...errorCodesRaisedIn(dir, 'FooError', { recursive: false })].sort()).toEqual(['first_code', 'second_code']);
  });
});
