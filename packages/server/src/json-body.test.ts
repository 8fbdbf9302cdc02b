import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GatewayError } from './errors.js';
import { parseJsonBody } from './json-body.js';
import { startTestGateway, type TestGateway } from './testing-fixtures/gateway-fixture.js';

describe('parseJsonBody', () => {
  it('parses JSON and treats an empty body as no body', () => {
    expect(parseJsonBody('{"a":[1,{"b":null}]}')).toEqual({ a: [1, { b: null }] });
    expect(parseJsonBody('  ')).toBeUndefined();
  });

  it.each([
    ['{"__proto__":{"x":1}}', "'__proto__'"],
    ['{"a":{"constructor":{"prototype":{}}}}', "'prototype'"],
    ['{"credentials":{"constructor":"v"}}', "'constructor'"],
  ])('refuses %s naming the key', (text, key) => {
    expect(() => parseJsonBody(text)).toThrow(GatewayError);
    expect(() => parseJsonBody(text)).toThrow(key);
  });

  it('never echoes the body in its message', () => {
    const secret = 'sk-ant-oat01-never-echo-me-0000';
    try {
      parseJsonBody(`{"token":"${secret}"`);
      throw new Error('expected a failure');
    } catch (err) {
      expect((err as GatewayError).code).toBe('invalid_json');
      expect((err as Error).message).not.toContain(secret);
    }
  });
});

describe('framework errors and body parsing over the API', () => {
  let t: TestGateway;
  beforeEach(async () => {
    t = await startTestGateway();
  });
  afterEach(async () => {
    await t.close();
  });

  it('answers an over-long path parameter in the gateway shape, naming the parameter', async () => {
    const long = await t.call('GET', `/v1/providers/${'x'.repeat(300)}`);
    expect(long.status).toBe(400);
    expect(long.json.error).toMatchObject({ code: 'invalid_request', field: 'params.name' });
    const huge = await t.call('GET', `/v1/providers/${'x'.repeat(2000)}`);
    expect(huge.status).toBe(400);
    expect(huge.json.error.message).toMatch(/path parameter is longer than 1024/);
    const badEncoding = await t.call('GET', '/v1/providers/%E0%A4%A');
    expect(badEncoding.status).toBe(400);
    expect(badEncoding.json.error.code).toBe('invalid_request');
  });

  it('refuses a prototype key with a message that names it', async () => {
    const res = await t.gw.app.inject({
      method: 'POST',
      url: '/v1/providers',
      headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/json' },
      payload: '{"name":"x","type":"github","__proto__":{"admin":true}}',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'invalid_json', message: expect.stringContaining("'__proto__'") });
  });

  it('accepts an empty JSON body where the body is optional', async () => {
    await t.call('POST', '/v1/sandboxes', { body: { name: 'dev' } });
    const res = await t.gw.app.inject({
      method: 'POST',
      url: '/v1/sandboxes/dev/tokens',
      headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/json' },
      payload: '',
    });
    expect(res.statusCode).toBe(201);
    const required = await t.gw.app.inject({
      method: 'POST',
      url: '/v1/providers',
      headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/json' },
      payload: '',
    });
    expect(required.statusCode).toBe(400);
    expect(required.json().error.code).toBe('invalid_request');
  });
});
