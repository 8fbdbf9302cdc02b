import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Forwarder, createForwarder } from './forwarder.js';
import { TEST_API_KEY, TEST_OAUTH_TOKEN, linesOf, oauthRoute, openaiRoute } from './testing-fixtures/routes.js';
import { type RecordedRequest, type TestServer, startRouter, startUpstream } from './testing-fixtures/servers.js';

/**
 * The official SDKs as sandbox clients: SDK → small HTTP server using the forwarder → loopback fake
 * upstream that enforces the provider's auth contract (reference/anthropic-subscription-and-peers.md
 * §2.6 for Anthropic OAuth). The SDKs use Node's fetch, which ignores proxy variables, so their base
 * URL points at the router server.
 */

const PINNED = 'claude-sonnet-4-6';

function json(res: import('node:http').ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'request-id': `req_${status}` });
  res.end(text);
}

/** Why a request breaks Anthropic's OAuth contract, or undefined when it is fine. */
function oauthViolation(r: RecordedRequest): string | undefined {
  const auth = linesOf(r.rawHeaders, 'authorization');
  if (auth.length !== 1 || auth[0] !== `Bearer ${TEST_OAUTH_TOKEN}`) return 'Invalid bearer token';
  if (linesOf(r.rawHeaders, 'x-api-key').length > 0) return 'invalid x-api-key';
  const betas = linesOf(r.rawHeaders, 'anthropic-beta');
  if (betas.length !== 1) return `expected exactly one anthropic-beta line, got ${betas.length}`;
  if (!betas[0]!.split(',').map((s) => s.trim()).includes('oauth-2025-04-20')) return 'OAuth authentication is currently not supported.';
  if (linesOf(r.rawHeaders, 'anthropic-version').length !== 1) return 'anthropic-version header is required';
  return undefined;
}

let anthropicUpstream: TestServer;
let openaiUpstream: TestServer;
let forwarder: Forwarder;
let anthropicRouter: Awaited<ReturnType<typeof startRouter>>;
let openaiRouter: Awaited<ReturnType<typeof startRouter>>;

// Every behaviour is proven for both upstream transports (ForwarderSettings.transport).
const TRANSPORTS = ['undici', 'h1'] as const;

describe.each(TRANSPORTS)('transport %s', (transport) => {
  beforeAll(async () => {
    anthropicUpstream = await startUpstream((req, res, recorded) => {
      const violation = oauthViolation(recorded);
      if (violation !== undefined) {
        json(res, 401, { type: 'error', error: { type: 'authentication_error', message: violation } });
        return;
      }
      const path = (req.url ?? '').split('?')[0];
      const body = JSON.parse(recorded.body.toString() || '{}') as { model?: string; stream?: boolean };
      if (path === '/v1/messages/count_tokens') {
        json(res, 200, { input_tokens: body.model === PINNED ? 42 : -1 });
        return;
      }
      if (path !== '/v1/messages') {
        json(res, 404, { type: 'error', error: { type: 'not_found_error', message: `no route ${path}` } });
        return;
      }
      const message = {
        id: 'msg_fake_1',
        type: 'message',
        role: 'assistant',
        model: body.model,
        content: [{ type: 'text', text: 'Hello from the fake upstream' }],
        stop_reason: 'end_turn',
        stop_sequence: null,
        usage: { input_tokens: 12, output_tokens: 6 },
      };
      if (!body.stream) {
        json(res, 200, message);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      send('message_start', { type: 'message_start', message: { ...message, content: [], stop_reason: null, usage: { input_tokens: 12, output_tokens: 0 } } });
      send('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
      for (const piece of ['Hello ', 'from the ', 'fake upstream']) {
        send('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: piece } });
      }
      send('content_block_stop', { type: 'content_block_stop', index: 0 });
      send('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 6 } });
      send('message_stop', { type: 'message_stop' });
      res.end();
    });

    openaiUpstream = await startUpstream((req, res, recorded) => {
      const auth = linesOf(recorded.rawHeaders, 'authorization');
      if (auth.length !== 1 || auth[0] !== `Bearer ${TEST_API_KEY}`) {
        json(res, 401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } });
        return;
      }
      const path = (req.url ?? '').split('?')[0];
      if (req.method === 'GET' && path === '/v1/models') {
        json(res, 200, { object: 'list', data: [{ id: 'gpt-4o-mini', object: 'model', created: 1, owned_by: 'openai' }] });
        return;
      }
      const body = JSON.parse(recorded.body.toString() || '{}') as { model?: string; stream?: boolean };
      const base = { id: 'chatcmpl-fake', created: 1_700_000_000, model: body.model };
      if (!body.stream) {
        json(res, 200, {
          ...base,
          object: 'chat.completion',
          choices: [{ index: 0, message: { role: 'assistant', content: 'Hi from fake OpenAI', refusal: null }, finish_reason: 'stop', logprobs: null }],
          usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 },
        });
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const [i, piece] of ['Hi ', 'from ', 'fake OpenAI'].entries()) {
        const chunk = { ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: i === 0 ? { role: 'assistant', content: piece } : { content: piece }, finish_reason: null }] };
        res.write(`data: ${JSON.stringify(chunk)}\n\n`);
      }
      res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
      res.end('data: [DONE]\n\n');
    });

    forwarder = createForwarder({ transport });
    const aRoute = oauthRoute(`${anthropicUpstream.url}/v1`, { model: PINNED });
    anthropicRouter = await startRouter(forwarder, () => aRoute);
    const oRoute = openaiRoute(`${openaiUpstream.url}/v1`, { model: 'gpt-4o-mini' });
    openaiRouter = await startRouter(forwarder, () => oRoute);
  });

  afterAll(async () => {
    await anthropicRouter.close();
    await openaiRouter.close();
    await forwarder.close();
    await anthropicUpstream.close();
    await openaiUpstream.close();
  });

  describe('official @anthropic-ai/sdk through the router (OAuth route)', () => {
    // API-key mode with a placeholder: the router must drop x-api-key and inject the bearer + beta.
    const client = () => new Anthropic({ baseURL: anthropicRouter.url, apiKey: 'placeholder-not-a-credential', maxRetries: 0 });

    it('non-streamed Messages call', async () => {
      const msg = await client().messages.create({ model: 'claude-opus-4-1', max_tokens: 64, messages: [{ role: 'user', content: 'hello' }] });
      expect(msg.content).toEqual([{ type: 'text', text: 'Hello from the fake upstream' }]);
      expect(msg.model).toBe(PINNED);
      const seen = anthropicUpstream.requests.at(-1)!;
      expect(linesOf(seen.rawHeaders, 'anthropic-beta')).toEqual(['oauth-2025-04-20']);
      expect(linesOf(seen.rawHeaders, 'x-stainless-lang')).toEqual(['js']);
    });

    it('streamed Messages call', async () => {
      const stream = client().messages.stream({ model: 'claude-opus-4-1', max_tokens: 64, messages: [{ role: 'user', content: 'hello' }] });
      const deltas: string[] = [];
      stream.on('text', (t) => deltas.push(t));
      const final = await stream.finalMessage();
      expect(deltas).toEqual(['Hello ', 'from the ', 'fake upstream']);
      expect(final.content).toHaveLength(1);
      expect(final.content[0]).toMatchObject({ type: 'text', text: 'Hello from the fake upstream' });
      expect(final.stop_reason).toBe('end_turn');
    });

    it('count_tokens call (the pinned model reaches the upstream)', async () => {
      const count = await client().messages.countTokens({ model: 'claude-opus-4-1', messages: [{ role: 'user', content: 'hello' }] });
      expect(count.input_tokens).toBe(42);
    });

    it("the client's own betas are merged with the oauth flag into one line (beta API, bearer mode)", async () => {
      const bearerClient = new Anthropic({ baseURL: anthropicRouter.url, authToken: 'placeholder-oauth', apiKey: null, maxRetries: 0 });
      const msg = await bearerClient.beta.messages.create({
        model: 'claude-opus-4-1',
        max_tokens: 16,
        betas: ['interleaved-thinking-2025-05-14', 'context-management-2025-06-27'],
        messages: [{ role: 'user', content: 'hi' }],
      });
      expect(msg.id).toBe('msg_fake_1');
      const seen = anthropicUpstream.requests.at(-1)!;
      expect(linesOf(seen.rawHeaders, 'anthropic-beta')).toEqual(['interleaved-thinking-2025-05-14,context-management-2025-06-27,oauth-2025-04-20']);
      expect(linesOf(seen.rawHeaders, 'authorization')).toEqual([`Bearer ${TEST_OAUTH_TOKEN}`]);
    });

    it('the SDK parses the router own errors as Anthropic API errors', async () => {
      // /v1/chat/completions is not served by an Anthropic route: the router answers 400 itself.
      const apiErr = await client()
        .post('/v1/chat/completions', { body: { model: 'x' } })
        .catch((e: unknown) => e);
      expect(apiErr).toBeInstanceOf(Anthropic.BadRequestError);
      const e = apiErr as InstanceType<typeof Anthropic.BadRequestError>;
      expect(e.status).toBe(400);
      expect((e.error as { error: { type: string } }).error.type).toBe('invalid_request_error');
      expect(e.message).toContain('protocol_not_routed');
    });
  });

  describe('official openai client through the router (openai route)', () => {
    const client = () => new OpenAI({ baseURL: `${openaiRouter.url}/v1`, apiKey: 'placeholder-not-a-credential', maxRetries: 0 });

    it('non-streamed chat completion', async () => {
      const res = await client().chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] });
      expect(res.choices[0]?.message.content).toBe('Hi from fake OpenAI');
      expect(res.model).toBe('gpt-4o-mini');
    });

    it('streamed chat completion', async () => {
      const stream = await client().chat.completions.create({ model: 'gpt-4.1', stream: true, messages: [{ role: 'user', content: 'hi' }] });
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      expect(text).toBe('Hi from fake OpenAI');
    });

    it('model discovery', async () => {
      const page = await client().models.list();
      expect(page.data.map((m) => m.id)).toEqual(['gpt-4o-mini']);
    });

    it('router errors arrive in the OpenAI shape the client understands', async () => {
      const err = await client()
        .post('/messages', { body: {} })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      const e = err as InstanceType<typeof OpenAI.BadRequestError>;
      expect(e.code).toBe('protocol_not_routed');
      expect(e.message).not.toContain(TEST_API_KEY);
    });
  });
});
