import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OpenShellError } from '@openshell/core';
import { describe, expect, it } from 'vitest';
import { GATEWAY_ERROR_CODES, statusForCode } from './error-codes.js';
import { GatewayError } from './errors.js';
import { toErrorResponse } from './http-errors.js';
import { StoreError } from './store/index.js';

const OWN_DIRS = ['.', 'routes'];

async function sourceFiles(): Promise<string[]> {
  const root = import.meta.dirname;
  const out: string[] = [];
  for (const d of OWN_DIRS) {
    for (const name of await readdir(join(root, d))) {
      if (name.endsWith('.ts') && !name.endsWith('.test.ts')) out.push(join(root, d, name));
    }
  }
  return out;
}

describe('error codes', () => {
  it('every code the gateway raises or sends has an entry with a description and a fix', async () => {
    const used = new Set<string>();
    for (const file of await sourceFiles()) {
      const text = await readFile(file, 'utf8');
      for (const m of text.matchAll(/new GatewayError\(\s*'([a-z_]+)'/g)) used.add(m[1] as string);
      for (const m of text.matchAll(/error: \{ code: '([a-z_]+)'/g)) used.add(m[1] as string);
      for (const m of text.matchAll(/:\s*'([a-z_]+)',?\s*$/gm)) {
        // Values of the code maps in http-errors.ts.
        if (file.endsWith('http-errors.ts')) used.add(m[1] as string);
      }
    }
    expect(used.size).toBeGreaterThan(15);
    const missing = [...used].filter((c) => !(c in GATEWAY_ERROR_CODES));
    expect(missing).toEqual([]);
    for (const [code, entry] of Object.entries(GATEWAY_ERROR_CODES)) {
      expect(entry.description.length, code).toBeGreaterThan(10);
      expect(entry.fix.length, code).toBeGreaterThan(5);
      expect(entry.status >= 400 && entry.status <= 599, code).toBe(true);
    }
  });

  it('maps codes to statuses through one table', () => {
    expect(statusForCode('unauthenticated')).toBe(401);
    expect(statusForCode('forbidden')).toBe(403);
    expect(statusForCode('resource_version_conflict')).toBe(409);
    expect(statusForCode('not_a_code')).toBe(500);
  });
});

describe('toErrorResponse', () => {
  const scrub = (s: string) => s.replaceAll('s3cr3t-value', '[REDACTED]');

  it('keeps a GatewayError code and field and scrubs its message', () => {
    const r = toErrorResponse(new GatewayError('invalid_request', 'body.x: bad s3cr3t-value', { field: 'body.x' }), scrub);
    expect(r).toEqual({ status: 400, internal: false, body: { error: { code: 'invalid_request', message: 'body.x: bad [REDACTED]', field: 'body.x' } } });
  });

  it.each([
    ['conflict', 'resource_version_conflict', 409],
    ['in_use', 'provider_in_use', 409],
    ['unavailable', 'store_unavailable', 503],
    ['busy', 'store_unavailable', 503],
    ['corrupt', 'internal', 500],
  ] as const)('maps StoreError %s to %s', (storeCode, code, status) => {
    const r = toErrorResponse(new StoreError(storeCode, 'x'), scrub);
    expect(r.status).toBe(status);
    expect(r.body.error.code).toBe(code);
  });

  it('hides the message of unexpected errors', () => {
    const r = toErrorResponse(new Error('pg: password s3cr3t-value rejected'), scrub);
    expect(r).toEqual({ status: 500, internal: true, body: { error: { code: 'internal', message: 'internal error; see the gateway log' } } });
  });

  it("keeps another package's code and status when it carries one, else hides it", () => {
    const carried = Object.assign(new OpenShellError('refresh_failed', 'token endpoint said no'), { statusCode: 502 });
    expect(toErrorResponse(carried, scrub)).toMatchObject({ status: 502, body: { error: { code: 'refresh_failed', message: 'token endpoint said no' } } });
    const bare = new OpenShellError('mystery', 'details s3cr3t-value');
    expect(toErrorResponse(bare, scrub)).toMatchObject({ status: 500, body: { error: { code: 'internal' } } });
  });

  it('maps fastify parser errors', () => {
    expect(toErrorResponse({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413, message: 'too big' }, scrub).status).toBe(413);
    expect(toErrorResponse({ code: 'FST_ERR_CTP_INVALID_JSON_BODY', statusCode: 400, message: 'bad' }, scrub).body.error.code).toBe('invalid_json');
  });
});
