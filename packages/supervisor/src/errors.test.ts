import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { SUPERVISOR_ERROR_CODES, SupervisorError } from './errors.js';

describe('SupervisorError', () => {
  it('is an OpenShellError with a stable code', () => {
    const err = new SupervisorError('gateway_rejected', 'x');
    expect(SupervisorError.isInstance(err)).toBe(true);
    expect(err.code).toBe('gateway_rejected');
    expect(err.name).toBe('SupervisorError');
  });

  it('every code is documented in architecture/supervisor.md with its fix', async () => {
    const doc = await readFile(new URL('../../../architecture/supervisor.md', import.meta.url), 'utf8');
    for (const [code, text] of Object.entries(SUPERVISOR_ERROR_CODES)) {
      expect(doc, code).toContain(`| \`${code}\` |`);
      expect(text.length, code).toBeGreaterThan(20);
    }
  });
});
