import { headerValues } from '@openshell/testing';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, SDK_CLIENT, startHarness } from './testing-fixtures/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ isolation: 'none' });
});
afterAll(async () => {
  await h?.close();
});

describe('runSupervisor without isolation', () => {
  it('curl reaches https://inference.local through the proxy variables, TLS verified against the sandbox CA', async () => {
    const body = '{"model":"claude-haiku-4-5",  "max_tokens":16,"messages":[{"role":"user","content":"hi \\u00e9 curl"}]}';
    const bodyFile = join(h.dir, 'body.json');
    await writeFile(bodyFile, body);
    h.api.reset();
    const res = await h.run([
      'curl', '-sS', '--fail-with-body', 'https://inference.local/v1/messages?beta=true',
      '-H', 'content-type: application/json',
      '-H', 'anthropic-version: 2023-06-01',
      '-H', 'anthropic-beta: claude-code-20250219,interleaved-thinking-2025-05-14',
      '-H', 'x-api-key: unused',
      '--data-binary', `@${bodyFile}`,
    ]);
    expect(res.stderr).toBe('');
    expect(res.exitCode).toBe(0);
    expect(JSON.parse(res.stdout ?? '')).toMatchObject({ type: 'message', content: [{ type: 'text', text: 'You said: hi é curl' }] });
    const [up] = h.api.requests;
    expect(up?.url).toBe('/v1/messages?beta=true');
    expect(headerValues(up!, 'authorization')).toEqual([`Bearer ${h.upstreamToken}`]);
    expect(headerValues(up!, 'x-api-key')).toEqual([]);
    expect(headerValues(up!, 'anthropic-beta')).toEqual(['claude-code-20250219,interleaved-thinking-2025-05-14,oauth-2025-04-20']);
    expect(up?.bodySha256).toBe(createHash('sha256').update(body).digest('hex'));
  });
});

void SDK_CLIENT;
