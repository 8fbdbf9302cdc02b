import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claudeCodeSystemPrompt, createFakeAnthropic, createFakeTokenEndpoint, type FakeAnthropic, type FakeTokenEndpoint } from './index.js';

describe('smoke', () => {
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
  it('sdk stream and non-stream', async () => {
    const login = tokens.issueLogin();
    const client = new Anthropic({ baseURL: api.url, authToken: login.accessToken, apiKey: null, defaultHeaders: { 'anthropic-beta': 'oauth-2025-04-20' }, maxRetries: 0 });
    const message = await client.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 50, system: claudeCodeSystemPrompt(), messages: [{ role: 'user', content: 'hello' }] });
    expect(message.content[0]).toEqual({ type: 'text', text: 'You said: hello' });
    const stream = client.messages.stream({ model: 'claude-sonnet-4-6', max_tokens: 50, system: claudeCodeSystemPrompt(), messages: [{ role: 'user', content: 'streamed' }] });
    const final = await stream.finalMessage();
    expect(final.content[0]).toMatchObject({ type: 'text', text: 'You said: streamed' });
  });
});
