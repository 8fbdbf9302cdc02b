import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_SDK_IDENTITY, ANTHROPIC_ERRORS, BILLING_HEADER_PREFIX, CLAUDE_CODE_IDENTITY, claudeCodeSystemPrompt } from './anthropic-contract.js';
import { createFakeAnthropic, type FakeAnthropic } from './fake-anthropic.js';
import { createFakeTokenEndpoint, type FakeTokenEndpoint } from './fake-token-endpoint.js';
import { headerValue, headerValues } from './loopback-server.js';

const TOKEN = 'sk-ant-oat01-test-token-aaaaaaaaaaaaaaaa';

function oauthHeaders(token = TOKEN, beta = 'oauth-2025-04-20'): Record<string, string> {
  return {
    authorization: `Bearer ${token}`,
    'anthropic-beta': beta,
    'anthropic-version': '2023-06-01',
    'content-type': 'application/json',
  };
}

function messageBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model: 'claude-sonnet-4-6',
    max_tokens: 64,
    system: claudeCodeSystemPrompt(),
    messages: [{ role: 'user', content: 'ping' }],
    ...overrides,
  };
}

async function post(
  api: FakeAnthropic,
  path: string,
  headers: Record<string, string>,
  body: unknown,
): Promise<{ status: number; json: unknown; headers: Headers }> {
  const response = await fetch(`${api.url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: response.status, json, headers: response.headers };
}

function errorBody(type: string, message: string) {
  return { type: 'error', error: { type, message } };
}

function parseSse(text: string): Array<{ event: string; data: Record<string, unknown> }> {
  return text
    .split('\n\n')
    .filter((frame) => frame.trim() !== '')
    .map((frame) => {
      const event = /^event: (.+)$/m.exec(frame)?.[1] ?? '';
      const data = JSON.parse(/^data: (.+)$/m.exec(frame)?.[1] ?? 'null') as Record<string, unknown>;
      return { event, data };
    });
}

describe('createFakeAnthropic in oauth mode', () => {
  let api: FakeAnthropic;
  beforeAll(async () => {
    api = await createFakeAnthropic({ accessTokens: [TOKEN] });
  });
  afterEach(() => {
    api.reset();
    api.configure({ identityGate: true, revokedAnswer: 'expired', reply: (c) => `You said: ${c.lastUserText}`, stream: {} });
  });
  afterAll(() => api.close());

  it('answers a valid bearer call with a Messages JSON and records it byte for byte', async () => {
    const raw = `{"model":"claude-sonnet-4-6", "max_tokens":64,\n "system":${JSON.stringify(claudeCodeSystemPrompt())},"messages":[{"role":"user","content":"hello there"}]}`;
    const response = await fetch(`${api.url}/v1/messages?beta=true`, { method: 'POST', headers: oauthHeaders(), body: raw });
    expect(response.status).toBe(200);
    expect(response.headers.get('request-id')).toBe('req_fake_0');
    const message = (await response.json()) as Record<string, unknown>;
    expect(message).toMatchObject({
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-6',
      content: [{ type: 'text', text: 'You said: hello there' }],
      stop_reason: 'end_turn',
    });
    expect(String(message.id)).toMatch(/^msg_fake_/);
    const recorded = api.requests[0]!;
    expect(recorded.method).toBe('POST');
    expect(recorded.url).toBe('/v1/messages?beta=true');
    expect(recorded.path).toBe('/v1/messages');
    expect(recorded.body.equals(Buffer.from(raw))).toBe(true);
    expect(recorded.bodySha256).toBe(createHash('sha256').update(raw).digest('hex'));
    expect(headerValue(recorded, 'Authorization')).toBe(`Bearer ${TOKEN}`);
    expect(recorded.rawHeaders.some(([name]) => name === 'anthropic-beta')).toBe(true);
    expect(recorded.status).toBe(200);
  });

  it('accepts the oauth flag among other betas in one header line', async () => {
    const result = await post(api, '/v1/messages', oauthHeaders(TOKEN, 'claude-code-20250219, oauth-2025-04-20,interleaved-thinking-2025-05-14'), messageBody());
    expect(result.status).toBe(200);
  });

  it('answers 401 "OAuth authentication is currently not supported." without the oauth beta', async () => {
    const headers = oauthHeaders();
    delete headers['anthropic-beta'];
    const missing = await post(api, '/v1/messages', headers, messageBody());
    expect(missing).toMatchObject({ status: 401, json: errorBody('authentication_error', 'OAuth authentication is currently not supported.') });
    const other = await post(api, '/v1/messages', oauthHeaders(TOKEN, 'claude-code-20250219'), messageBody());
    expect(other).toMatchObject({ status: 401, json: errorBody('authentication_error', ANTHROPIC_ERRORS.oauthNotSupported) });
  });

  it('answers 400 when anthropic-beta arrives as more than one header line', async () => {
    const status = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = httpRequest(`${api.url}/v1/messages`, {
        method: 'POST',
        headers: { ...oauthHeaders(), 'anthropic-beta': ['claude-code-20250219', 'oauth-2025-04-20'] },
      });
      request.on('response', (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => {
          body += chunk.toString();
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      });
      request.on('error', reject);
      request.end(JSON.stringify(messageBody()));
    });
    expect(status.status).toBe(400);
    expect(JSON.parse(status.body)).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(headerValues(api.requests[0]!, 'anthropic-beta')).toEqual(['claude-code-20250219', 'oauth-2025-04-20']);
  });

  it('rejects any x-api-key, even next to a valid bearer', async () => {
    const withBoth = await post(api, '/v1/messages', { ...oauthHeaders(), 'x-api-key': TOKEN }, messageBody());
    expect(withBoth).toMatchObject({ status: 401, json: errorBody('authentication_error', 'invalid x-api-key') });
    const keyOnly = await post(
      api,
      '/v1/messages',
      { 'x-api-key': 'sk-ant-api03-zzz', 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      messageBody(),
    );
    expect(keyOnly).toMatchObject({ status: 401, json: errorBody('authentication_error', 'invalid x-api-key') });
  });

  it('answers 401 "x-api-key header is required" without any credential', async () => {
    const result = await post(api, '/v1/messages', { 'anthropic-version': '2023-06-01', 'content-type': 'application/json' }, messageBody());
    expect(result).toMatchObject({ status: 401, json: errorBody('authentication_error', 'x-api-key header is required') });
  });

  it('answers 401 for an unknown or malformed bearer token', async () => {
    const unknown = await post(api, '/v1/messages', oauthHeaders('sk-ant-oat01-never-issued'), messageBody());
    expect(unknown).toMatchObject({ status: 401, json: errorBody('authentication_error', ANTHROPIC_ERRORS.invalidOAuthToken) });
    const basic = await post(api, '/v1/messages', { ...oauthHeaders(), authorization: 'Basic abc' }, messageBody());
    expect(basic).toMatchObject({ status: 401, json: errorBody('authentication_error', 'Invalid bearer token') });
  });

  it('answers 401 "OAuth token has expired..." for an expired token', async () => {
    api.ledger.allow('sk-ant-oat01-short-lived', Date.now() - 1);
    const result = await post(api, '/v1/messages', oauthHeaders('sk-ant-oat01-short-lived'), messageBody());
    expect(result).toMatchObject({
      status: 401,
      json: errorBody('authentication_error', 'OAuth token has expired. Please obtain a new token or refresh your existing token.'),
    });
    api.ledger.allow('sk-ant-oat01-expire-me');
    expect((await post(api, '/v1/messages', oauthHeaders('sk-ant-oat01-expire-me'), messageBody())).status).toBe(200);
    api.ledger.expire('sk-ant-oat01-expire-me');
    expect(await post(api, '/v1/messages', oauthHeaders('sk-ant-oat01-expire-me'), messageBody())).toMatchObject({
      status: 401,
      json: errorBody('authentication_error', ANTHROPIC_ERRORS.oauthExpired),
    });
  });

  it('answers a revoked token with the expired message, or "Invalid authentication credentials" when configured', async () => {
    api.ledger.allow('sk-ant-oat01-revoke-me');
    api.ledger.revoke('sk-ant-oat01-revoke-me');
    const expired = await post(api, '/v1/messages', oauthHeaders('sk-ant-oat01-revoke-me'), messageBody());
    expect(expired).toMatchObject({ status: 401, json: errorBody('authentication_error', ANTHROPIC_ERRORS.oauthExpired) });
    api.configure({ revokedAnswer: 'invalid' });
    const invalid = await post(api, '/v1/messages', oauthHeaders('sk-ant-oat01-revoke-me'), messageBody());
    expect(invalid).toMatchObject({ status: 401, json: errorBody('authentication_error', 'Invalid authentication credentials') });
  });

  it('answers 400 when anthropic-version is missing', async () => {
    const headers = oauthHeaders();
    delete headers['anthropic-version'];
    const result = await post(api, '/v1/messages', headers, messageBody());
    expect(result).toMatchObject({ status: 400, json: errorBody('invalid_request_error', 'anthropic-version: header is required') });
  });

  const gateCases: Array<{ name: string; model: string; system: unknown; status: number }> = [
    { name: 'no system prompt, Sonnet', model: 'claude-sonnet-4-6', system: undefined, status: 400 },
    { name: 'foreign system prompt', model: 'claude-sonnet-4-6', system: 'You are a helpful assistant.', status: 400 },
    { name: 'old identity string', model: 'claude-sonnet-4-6', system: `${CLAUDE_CODE_IDENTITY} Be brief.`, status: 200 },
    { name: 'old identity first block', model: 'claude-opus-4-6', system: [{ type: 'text', text: CLAUDE_CODE_IDENTITY }], status: 200 },
    { name: 'old identity not at the start', model: 'claude-sonnet-4-6', system: `Hi. ${CLAUDE_CODE_IDENTITY}`, status: 400 },
    {
      name: 'billing block then Agent SDK identity',
      model: 'claude-sonnet-4-6',
      system: [
        { type: 'text', text: `${BILLING_HEADER_PREFIX} cc_version=2.1.328; cch=abc;` },
        { type: 'text', text: `${AGENT_SDK_IDENTITY}\nMore.` },
      ],
      status: 200,
    },
    { name: 'Agent SDK identity without billing block', model: 'claude-sonnet-4-6', system: [{ type: 'text', text: AGENT_SDK_IDENTITY }], status: 400 },
    {
      name: 'billing block then foreign text',
      model: 'claude-sonnet-4-6',
      system: [{ type: 'text', text: `${BILLING_HEADER_PREFIX} x` }, { type: 'text', text: 'You are helpful.' }],
      status: 400,
    },
    { name: 'Haiku without identity', model: 'claude-haiku-4-5', system: undefined, status: 200 },
  ];
  for (const gate of gateCases) {
    it(`identity gate: ${gate.name} → ${gate.status}`, async () => {
      const body = messageBody({ model: gate.model });
      if (gate.system === undefined) delete body.system;
      else body.system = gate.system;
      const result = await post(api, '/v1/messages', oauthHeaders(), body);
      expect(result.status).toBe(gate.status);
      if (gate.status === 400) {
        expect(result.json).toEqual(errorBody('invalid_request_error', ANTHROPIC_ERRORS.claudeCodeOnly));
      }
    });
  }

  it('lets the identity gate be switched off', async () => {
    api.configure({ identityGate: false });
    const body = messageBody();
    delete body.system;
    expect((await post(api, '/v1/messages', oauthHeaders(), body)).status).toBe(200);
  });

  it('validates the Messages body like the real API', async () => {
    const invalidJson = await fetch(`${api.url}/v1/messages`, { method: 'POST', headers: oauthHeaders(), body: '{not json' });
    expect(invalidJson.status).toBe(400);
    expect(await post(api, '/v1/messages', oauthHeaders(), messageBody({ max_tokens: undefined }))).toMatchObject({
      status: 400,
      json: errorBody('invalid_request_error', 'max_tokens: Field required'),
    });
    expect(await post(api, '/v1/messages', oauthHeaders(), messageBody({ model: 'gpt-4o' }))).toMatchObject({
      status: 404,
      json: errorBody('not_found_error', 'model: gpt-4o'),
    });
  });

  it('streams the real SSE event sequence with the configured number of deltas', async () => {
    api.configure({ reply: 'abcdefghij', stream: { deltas: 4 } });
    const response = await fetch(`${api.url}/v1/messages?beta=true`, {
      method: 'POST',
      headers: oauthHeaders(),
      body: JSON.stringify(messageBody({ stream: true })),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = parseSse(await response.text());
    expect(events.map((e) => e.event)).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    for (const event of events) expect(event.data.type).toBe(event.event);
    const text = events
      .filter((e) => e.event === 'content_block_delta')
      .map((e) => (e.data.delta as { text: string }).text)
      .join('');
    expect(text).toBe('abcdefghij');
    expect(events.at(-2)?.data).toMatchObject({ delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 4 } });
  });

  it('paces events with intervalMs and can drop the ping', async () => {
    api.configure({ reply: 'paced reply', stream: { deltas: 2, intervalMs: 5, ping: false } });
    const response = await fetch(`${api.url}/v1/messages`, {
      method: 'POST',
      headers: oauthHeaders(),
      body: JSON.stringify(messageBody({ stream: true })),
    });
    const events = parseSse(await response.text());
    expect(events.map((e) => e.event)).not.toContain('ping');
    expect(events.filter((e) => e.event === 'content_block_delta')).toHaveLength(2);
    expect(events.at(-1)?.event).toBe('message_stop');
  });

  it('holds the stream in beforeEvent until the client saw the first event (causal hook)', async () => {
    const order: string[] = [];
    let clientSawStart!: () => void;
    const sawStart = new Promise<void>((resolve) => {
      clientSawStart = resolve;
    });
    api.configure({
      stream: {
        ping: false,
        deltas: 1,
        beforeEvent: async ({ index, name }) => {
          if (index === 1) await sawStart;
          order.push(`server:${name}`);
        },
      },
    });
    const response = await fetch(`${api.url}/v1/messages`, {
      method: 'POST',
      headers: oauthHeaders(),
      body: JSON.stringify(messageBody({ stream: true })),
    });
    const reader = response.body!.getReader();
    let received = '';
    for (let reads = 0; reads < 100; reads++) {
      const { done, value } = await reader.read();
      if (done) break;
      received += Buffer.from(value).toString();
      if (received.includes('event: message_start') && order.length === 1) {
        order.push('client:message_start');
        clientSawStart();
      }
    }
    expect(order.slice(0, 3)).toEqual(['server:message_start', 'client:message_start', 'server:content_block_start']);
    expect(received).toContain('event: message_stop');
  });

  it('serves count_tokens and the models list', async () => {
    const count = await post(api, '/v1/messages/count_tokens', oauthHeaders(), {
      model: 'claude-sonnet-4-6',
      messages: [{ role: 'user', content: 'count me' }],
    });
    expect(count.status).toBe(200);
    expect(Object.keys(count.json as object)).toEqual(['input_tokens']);
    expect((count.json as { input_tokens: number }).input_tokens).toBeGreaterThan(0);

    const list = await fetch(`${api.url}/v1/models`, { headers: oauthHeaders() });
    expect(list.status).toBe(200);
    const models = (await list.json()) as { data: Array<{ id: string; type: string }>; has_more: boolean };
    expect(models.data.map((m) => m.id)).toContain('claude-sonnet-4-6');
    expect(models.has_more).toBe(false);

    const one = await fetch(`${api.url}/v1/models/claude-haiku-4-5`, { headers: oauthHeaders() });
    expect(await one.json()).toMatchObject({ type: 'model', id: 'claude-haiku-4-5' });
    const missing = await fetch(`${api.url}/v1/models/gpt-4o`, { headers: oauthHeaders() });
    expect(missing.status).toBe(404);

    const unauthenticated = await fetch(`${api.url}/v1/models`, { headers: { 'anthropic-version': '2023-06-01' } });
    expect(unauthenticated.status).toBe(401);
  });

  it('answers 404 not_found_error on unknown paths', async () => {
    const result = await post(api, '/v1/complete', oauthHeaders(), {});
    expect(result.status).toBe(404);
    expect(result.json).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
  });

  it('uses a reply function given the last text block of the last user message', async () => {
    api.configure({ reply: ({ lastUserText, model }) => `${model}:${lastUserText.toUpperCase()}` });
    const result = await post(
      api,
      '/v1/messages',
      oauthHeaders(),
      messageBody({ messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] }] }),
    );
    expect(result.json).toMatchObject({ content: [{ type: 'text', text: 'claude-sonnet-4-6:B' }] });
  });
});

describe('forced behaviours of createFakeAnthropic', () => {
  let api: FakeAnthropic;
  beforeAll(async () => {
    api = await createFakeAnthropic({ accessTokens: [TOKEN] });
  });
  afterEach(() => api.reset());
  afterAll(() => api.close());

  it('answers the next N requests with a forced status, then normally', async () => {
    api.force({ kind: 'error', status: 429 }, { times: 2 });
    const first = await post(api, '/v1/messages', oauthHeaders(), messageBody());
    expect(first).toMatchObject({ status: 429, json: errorBody('rate_limit_error', ANTHROPIC_ERRORS.rateLimited) });
    expect(first.headers.get('retry-after')).toBe('1');
    expect((await post(api, '/v1/messages', oauthHeaders(), messageBody())).status).toBe(429);
    expect((await post(api, '/v1/messages', oauthHeaders(), messageBody())).status).toBe(200);
  });

  it('uses the real error types for forced 401, 500 and 529', async () => {
    api.force({ kind: 'error', status: 401 });
    api.force({ kind: 'error', status: 500 });
    api.force({ kind: 'error', status: 529 });
    expect((await post(api, '/v1/messages', oauthHeaders(), messageBody())).json).toEqual(errorBody('authentication_error', ANTHROPIC_ERRORS.oauthExpired));
    expect((await post(api, '/v1/messages', oauthHeaders(), messageBody())).json).toEqual(errorBody('api_error', 'Internal server error'));
    expect((await post(api, '/v1/messages', oauthHeaders(), messageBody())).json).toEqual(errorBody('overloaded_error', 'Overloaded'));
  });

  it('applies a forced behaviour only to its path', async () => {
    api.force({ kind: 'error', status: 500 }, { path: '/v1/messages/count_tokens' });
    expect((await post(api, '/v1/messages', oauthHeaders(), messageBody())).status).toBe(200);
    const count = await post(api, '/v1/messages/count_tokens', oauthHeaders(), { model: 'claude-sonnet-4-6', messages: [] });
    expect(count.status).toBe(500);
  });

  it('hangs before headers until the client aborts', async () => {
    api.force({ kind: 'hang' });
    const controller = new AbortController();
    const pending = fetch(`${api.url}/v1/messages`, { method: 'POST', headers: oauthHeaders(), body: JSON.stringify(messageBody()), signal: controller.signal });
    await api.waitForRequests(1);
    controller.abort();
    await expect(pending).rejects.toThrow();
    expect(api.requests[0]!.status).toBeUndefined();
  });

  it('holds before headers until released, then answers normally', async () => {
    let release!: () => void;
    api.force({ kind: 'hold', until: new Promise<void>((resolve) => { release = resolve; }) });
    const pending = post(api, '/v1/messages', oauthHeaders(), messageBody());
    await api.waitForRequests(1);
    expect(api.requests[0]!.status).toBeUndefined();
    release();
    expect((await pending).status).toBe(200);
  });

  it('resets the connection before headers', async () => {
    api.force({ kind: 'destroy' });
    await expect(fetch(`${api.url}/v1/messages`, { method: 'POST', headers: oauthHeaders(), body: JSON.stringify(messageBody()) })).rejects.toThrow();
  });

  it('resets the connection mid-stream after N events', async () => {
    api.force({ kind: 'reset-mid-stream', afterEvents: 2 });
    const response = await fetch(`${api.url}/v1/messages`, { method: 'POST', headers: oauthHeaders(), body: JSON.stringify(messageBody({ stream: true })) });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    let received = '';
    const failure = await (async () => {
      for (let reads = 0; reads < 100; reads++) {
        const { done, value } = await reader.read();
        if (done) return undefined;
        received += Buffer.from(value).toString();
      }
      return undefined;
    })().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    expect(received).toContain('event: content_block_start');
    expect(received).not.toContain('event: message_stop');
  });

  it('resets a JSON answer half way', async () => {
    api.force({ kind: 'reset-mid-stream' });
    const response = await fetch(`${api.url}/v1/messages`, { method: 'POST', headers: oauthHeaders(), body: JSON.stringify(messageBody()) });
    await expect(response.text()).rejects.toThrow();
  });

  it('sends an SSE error event mid-stream', async () => {
    api.force({ kind: 'stream-error', afterEvents: 2 });
    const response = await fetch(`${api.url}/v1/messages`, {
      method: 'POST',
      headers: oauthHeaders(),
      body: JSON.stringify(messageBody({ stream: true })),
    });
    expect(response.status).toBe(200);
    const events = parseSse(await response.text());
    expect(events.map((event) => event.event)).toEqual(['message_start', 'content_block_start', 'error']);
    expect(events[2]!.data).toEqual(errorBody('overloaded_error', 'Overloaded'));
  });

  it('writes a slow answer in many small chunks that still parse', async () => {
    api.force({ kind: 'slow', chunkBytes: 16, delayMs: 3 });
    const response = await fetch(`${api.url}/v1/messages`, { method: 'POST', headers: oauthHeaders(), body: JSON.stringify(messageBody()) });
    const reader = response.body!.getReader();
    const chunks: Uint8Array[] = [];
    for (let reads = 0; reads < 10_000; reads++) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
    }
    expect(chunks.length).toBeGreaterThan(1);
    expect(JSON.parse(Buffer.concat(chunks).toString())).toMatchObject({ type: 'message' });
  });

  it('reset() clears recorded requests and forced behaviours', async () => {
    api.force({ kind: 'error', status: 500 }, { times: 5 });
    await post(api, '/v1/messages', oauthHeaders(), messageBody());
    expect(api.requests).toHaveLength(1);
    api.reset();
    expect(api.requests).toHaveLength(0);
    expect((await post(api, '/v1/messages', oauthHeaders(), messageBody())).status).toBe(200);
    expect(api.requests[0]!.index).toBe(0);
  });
});

describe('createFakeAnthropic record limit', () => {
  it('keeps only the most recent requests but counts all', async () => {
    const api = await createFakeAnthropic({ accessTokens: [TOKEN], recordLimit: 2 });
    try {
      for (let i = 0; i < 5; i++) await post(api, '/v1/messages', oauthHeaders(), messageBody());
      expect(api.requestCount).toBe(5);
      expect(api.requests.map((request) => request.index)).toEqual([3, 4]);
      await api.waitForRequests(5);
    } finally {
      await api.close();
    }
  });
});

describe('createFakeAnthropic in apiKey mode', () => {
  let api: FakeAnthropic;
  beforeAll(async () => {
    api = await createFakeAnthropic({ auth: 'apiKey', apiKeys: ['sk-ant-api03-good'] });
  });
  afterAll(() => api.close());

  const headers = (key?: string) => ({
    'anthropic-version': '2023-06-01',
    'content-type': 'application/json',
    ...(key === undefined ? {} : { 'x-api-key': key }),
  });

  it('accepts a known x-api-key without any identity gate', async () => {
    const body = messageBody();
    delete body.system;
    expect((await post(api, '/v1/messages', headers('sk-ant-api03-good'), body)).status).toBe(200);
  });

  it('rejects an unknown or missing x-api-key', async () => {
    expect(await post(api, '/v1/messages', headers('sk-ant-api03-bad'), messageBody())).toMatchObject({
      status: 401,
      json: errorBody('authentication_error', 'invalid x-api-key'),
    });
    expect(await post(api, '/v1/messages', headers(), messageBody())).toMatchObject({
      status: 401,
      json: errorBody('authentication_error', 'x-api-key header is required'),
    });
  });
});

describe('createFakeAnthropic linked to a fake token endpoint', () => {
  let tokens: FakeTokenEndpoint;
  let api: FakeAnthropic;
  beforeAll(async () => {
    tokens = await createFakeTokenEndpoint();
    api = await createFakeAnthropic({ tokenEndpoint: tokens });
  });
  afterAll(async () => {
    await api.close();
    await tokens.close();
  });

  it('accepts issued tokens and rejects the rotated-away one with the expired message', async () => {
    const login = tokens.issueLogin();
    expect((await post(api, '/v1/messages', oauthHeaders(login.accessToken), messageBody())).status).toBe(200);
    const refreshed = await fetch(tokens.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: login.refreshToken, client_id: '9d1c250a-e61b-44d9-88ed-5944d1962f5e' }),
    });
    const answer = (await refreshed.json()) as { access_token: string };
    expect((await post(api, '/v1/messages', oauthHeaders(login.accessToken), messageBody())).json).toEqual(
      errorBody('authentication_error', ANTHROPIC_ERRORS.oauthExpired),
    );
    expect((await post(api, '/v1/messages', oauthHeaders(answer.access_token), messageBody())).status).toBe(200);
  });
});
