// A path parameter beyond fastify's default maxParamLength gets the gateway's error shape naming the parameter.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './testing-fixtures/gateway-fixture.js';

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(async () => {
  await t?.close();
});

it('a 300-character provider name in the path gets the gateway error shape naming the parameter', async () => {
  const res = await t.call('GET', `/v1/providers/${'x'.repeat(300)}`);
  expect(res.status).toBeLessThan(500);
  expect(typeof res.json?.error?.code).toBe('string');
  expect(res.json?.error?.message).toMatch(/name|param|long/i);
});

it('a 5000-character name and a malformed percent-encoding get the gateway shape too', async () => {
  for (const url of [`/v1/sandboxes/${'y'.repeat(5000)}`, '/v1/providers/%E0%A4%A', '/v1/inference/routes/%']) {
    const res = await t.call('GET', url);
    expect(res.status, url.slice(0, 60)).toBe(400);
    expect(res.json?.error?.code).toBe('invalid_request');
    expect(res.json?.error?.message).toMatch(/\w{3,}/);
  }
});
