import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANTHROPIC_ERRORS, claudeCodeSystemPrompt } from './anthropic-contract.js';
import { createFakeAnthropic, type FakeAnthropic } from './fake-anthropic.js';
import { createFakeTokenEndpoint, type FakeLogin, type FakeTokenEndpoint } from './fake-token-endpoint.js';
import { headerValue, headerValues } from './loopback-server.js';

describe('the official @anthropic-ai/sdk against the fakes', () => {
  let tokens: FakeTokenEndpoint;
  let api: FakeAnthropic;
  let login: FakeLogin;
  let client: Anthropic;
  beforeAll(async () => {
    tokens = await createFakeTokenEndpoint();
    api = await createFakeAnthropic({ tokenEndpoint: tokens, stream: { deltas: 5 } });
    login = tokens.issueLogin();
    client = new Anthropic({
      baseURL: api.url,
      apiKey: null,
      authToken: login.accessToken,
      defaultHeaders: { 'anthropic-beta': 'oauth-2025-04-20' },
      maxRetries: 0,
    });
  });
  afterAll(async () => {
    await api.close();
    await tokens.close();
  });

  it('completes a non-stream call with a Bearer token and the oauth beta', async () => {
    const message = await client.messages.create({
      model: 'claude-sonnet-4-6',
      max_tokens: 64,
      system: claudeCodeSystemPrompt(),
      messages: [{ role: 'user', content: 'hello' }],
    });
    expect(message.content).toEqual([{ type: 'text', text: 'You said: hello' }]);
    expect(message.stop_reason).toBe('end_turn');
    const recorded = api.requests.at(-1)!;
    expect(headerValue(recorded, 'authorization')).toBe(`Bearer ${login.accessToken}`);
    expect(headerValues(recorded, 'x-api-key')).toEqual([]);
    expect(headerValue(recorded, 'anthropic-beta')).toBe('oauth-2025-04-20');
  });

  it('completes a streamed call', async () => {
    const stream = client.messages.stream({
      model: 'claude-sonnet-4-6',
      max_tokens: 64,
      system: claudeCodeSystemPrompt(),
      messages: [{ role: 'user', content: 'streaming works' }],
    });
    const deltas: string[] = [];
    stream.on('text', (text) => deltas.push(text));
    const final = await stream.finalMessage();
    expect(deltas).toHaveLength(5);
    expect(deltas.join('')).toBe('You said: streaming works');
    expect(final.content).toEqual([{ type: 'text', text: 'You said: streaming works' }]);
    expect(final.usage.output_tokens).toBe(5);
  });

  it('raises the SDK error for an SSE error event mid-stream', async () => {
    api.force({ kind: 'stream-error', afterEvents: 3 });
    const stream = client.messages.stream({
      model: 'claude-sonnet-4-6',
      max_tokens: 64,
      system: claudeCodeSystemPrompt(),
      messages: [{ role: 'user', content: 'x' }],
    });
    const failure = await stream.finalMessage().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Anthropic.APIError);
    expect(String((failure as Error).message)).toContain('Overloaded');
  });

  it('counts tokens and lists models', async () => {
    const counted = await client.messages.countTokens({ model: 'claude-sonnet-4-6', messages: [{ role: 'user', content: 'count' }] });
    expect(counted.input_tokens).toBeGreaterThan(0);
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids).toContain('claude-sonnet-4-6');
  });

  it('surfaces the real error classes and messages', async () => {
    const noBeta = new Anthropic({ baseURL: api.url, apiKey: null, authToken: login.accessToken, maxRetries: 0 });
    const missingBeta = await noBeta.messages
      .create({ model: 'claude-sonnet-4-6', max_tokens: 8, system: claudeCodeSystemPrompt(), messages: [{ role: 'user', content: 'x' }] })
      .catch((error: unknown) => error);
    expect(missingBeta).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((missingBeta as InstanceType<typeof Anthropic.AuthenticationError>).status).toBe(401);
    expect(String((missingBeta as Error).message)).toContain(ANTHROPIC_ERRORS.oauthNotSupported);

    const gated = await client.messages
      .create({ model: 'claude-sonnet-4-6', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] })
      .catch((error: unknown) => error);
    expect(gated).toBeInstanceOf(Anthropic.BadRequestError);
    expect(String((gated as Error).message)).toContain(ANTHROPIC_ERRORS.claudeCodeOnly);

    api.force({ kind: 'error', status: 529 });
    const overloaded = await client.messages
      .create({ model: 'claude-sonnet-4-6', max_tokens: 8, system: claudeCodeSystemPrompt(), messages: [{ role: 'user', content: 'x' }] })
      .catch((error: unknown) => error);
    expect(overloaded).toBeInstanceOf(Anthropic.APIError);
    expect((overloaded as InstanceType<typeof Anthropic.APIError>).status).toBe(529);
  });
});
