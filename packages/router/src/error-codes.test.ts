import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { errorCodesRaisedIn } from '@openshell/testing';
import { describe, expect, it } from 'vitest';
import { ROUTER_ERROR_CODES, type RouterErrorCode } from './error-codes.js';
import { type ErrorShape, errorBody, sseErrorFrame } from './error-response.js';
import { RouterError } from './errors.js';

const srcDir = fileURLToPath(new URL('.', import.meta.url));

describe('error codes', () => {
  it('every code raised in the source has a documented entry', () => {
    const raised = errorCodesRaisedIn(srcDir, 'RouterError');
    expect(raised.size).toBeGreaterThan(10);
    for (const code of raised) expect(Object.keys(ROUTER_ERROR_CODES), code).toContain(code);
  });

  it('architecture/router.md lists every code with its status', () => {
    const doc = readFileSync(fileURLToPath(new URL('../../../architecture/router.md', import.meta.url)), 'utf8');
    for (const [code, entry] of Object.entries(ROUTER_ERROR_CODES)) {
      expect(doc, code).toContain(`| \`${code}\` | ${entry.status} |`);
    }
  });

  it('every entry has a status, a description and a fix', () => {
    for (const [code, entry] of Object.entries(ROUTER_ERROR_CODES)) {
      expect(entry.status, code).toBeGreaterThanOrEqual(400);
      expect(entry.description.length, code).toBeGreaterThan(10);
      expect(entry.fix.length, code).toBeGreaterThan(3);
    }
  });

  it('RouterError reads its status from the table and is an OpenShellError', () => {
    const err = new RouterError('request_body_too_large', 'too big');
    expect(err.status).toBe(413);
    expect(RouterError.isInstance(err)).toBe(true);
    expect(RouterError.isRouterError(err)).toBe(true);
    expect(RouterError.isRouterError(new Error('x'))).toBe(false);
  });
});

describe('protocol-shaped error bodies', () => {
  const err = new RouterError('upstream_first_byte_timeout', 'no answer "quoted"\n\nevent: fake');
  it.each<[ErrorShape, unknown]>([
    ['anthropic', { type: 'error', error: { type: 'timeout_error', message: expect.stringContaining('upstream_first_byte_timeout') } }],
    ['openai', { error: { message: expect.stringContaining('no answer'), type: 'server_error', param: null, code: 'upstream_first_byte_timeout' } }],
    ['plain', { message: expect.any(String), code: 'upstream_first_byte_timeout' }],
  ])('%s', (shape, want) => {
    expect(JSON.parse(errorBody(shape, err))).toEqual(want);
  });

  it('an SSE error frame is exactly one event even when the message contains blank lines', () => {
    const frame = sseErrorFrame('anthropic', err);
    expect(frame.split('\n\n')).toEqual([expect.stringMatching(/^event: error\ndata: \{/), '']);
  });

  it.each(Object.keys(ROUTER_ERROR_CODES) as RouterErrorCode[])('%s maps to an Anthropic error type', (code) => {
    const body = JSON.parse(errorBody('anthropic', new RouterError(code, 'm'))) as { error: { type: string } };
    expect(body.error.type).toMatch(/_error$|^request_too_large$/);
  });
});
