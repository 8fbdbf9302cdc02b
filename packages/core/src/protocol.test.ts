import { describe, expect, it } from 'vitest';
import { detectProtocol, PROTOCOL_PATHS, type Protocol } from './index.js';

describe('detectProtocol', () => {
  it.each([
    ['POST', '/v1/messages', 'anthropic_messages'],
    ['POST', '/v1/messages?beta=true', 'anthropic_messages'],
    ['POST', '/v1/messages/', 'anthropic_messages'],
    ['post', '/v1/messages', 'anthropic_messages'],
    ['POST', '/v1/messages/count_tokens', 'anthropic_count_tokens'],
    ['POST', '/v1/messages/count_tokens?beta=true', 'anthropic_count_tokens'],
    ['POST', '/v1/chat/completions', 'openai_chat_completions'],
    ['POST', '/v1/chat/completions?api-version=2024-01-01', 'openai_chat_completions'],
    ['POST', '/v1/completions', 'openai_completions'],
    ['POST', '/v1/responses', 'openai_responses'],
    ['POST', '/v1/responses?stream=true', 'openai_responses'],
    ['POST', '/v1/embeddings', 'openai_embeddings'],
    ['GET', '/v1/models', 'model_discovery'],
    ['GET', '/v1/models?limit=20', 'model_discovery'],
    ['GET', '/v1/models/', 'model_discovery'],
    ['GET', '/v1/models/claude-sonnet-4-6', 'model_discovery'],
    ['GET', '/v1/models/claude-sonnet-4-6?x=1', 'model_discovery'],
    ['POST', '/model/anthropic.claude-3-haiku/invoke', 'aws_bedrock_invoke'],
    ['POST', '/model/anthropic.claude-3-haiku/invoke?trace=1', 'aws_bedrock_invoke'],
  ] as const)('%s %s → %s', (method, path, protocol) => {
    expect(detectProtocol(method, path)).toBe(protocol);
  });

  it.each([
    ['GET', '/v1/messages'],
    ['PUT', '/v1/messages'],
    ['POST', '/v1/models'],
    ['GET', '/v1/chat/completions'],
    ['DELETE', '/v1/models/x'],
    ['POST', '/v1/messages/batches'],
    ['POST', '/v1/messagesx'],
    ['GET', '/v1/modelsx'],
    ['POST', '/v2/messages'],
    ['POST', '/messages'],
    ['POST', '/model/x/invoke-with-response-stream'],
    ['POST', '/model//invoke'],
    ['POST', '/'],
    ['POST', ''],
    ['POST', '?/v1/messages'],
    ['POST', '/x?/v1/messages'],
  ])('%s %j is not a routed inference call', (method, path) => {
    expect(detectProtocol(method, path)).toBeUndefined();
  });

  it('every protocol path is detected as its own protocol', () => {
    for (const [protocol, path] of Object.entries(PROTOCOL_PATHS) as [Protocol, string][]) {
      const method = protocol === 'model_discovery' ? 'GET' : 'POST';
      const p = protocol === 'aws_bedrock_invoke' ? `${path}/some-model/invoke` : path;
      expect(detectProtocol(method, p), protocol).toBe(protocol);
    }
  });
});
