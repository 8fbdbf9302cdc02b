import { describe, expect, it } from 'vitest';
import { RouterError } from './errors.js';
import { buildUpstreamPath, compileBaseUrl, splitTarget, validateTarget } from './upstream-url.js';

const plain = { name: 'r', model: undefined, modelInPath: undefined, requestPathOverride: undefined };

describe('buildUpstreamPath', () => {
  it.each([
    ['https://api.anthropic.com/v1', '/v1/messages', '?beta=true', '/v1/messages?beta=true'],
    ['https://api.anthropic.com/v1/', '/v1/messages/count_tokens', '?beta=true', '/v1/messages/count_tokens?beta=true'],
    ['https://api.anthropic.com', '/v1/messages', '', '/v1/messages'],
    ['https://api.deepinfra.com/v1/openai', '/v1/chat/completions', '', '/v1/openai/chat/completions'],
    ['https://proxy.example/openai/v1', '/v1/models', '?limit=2&after_id=x', '/openai/v1/models?limit=2&after_id=x'],
    ['https://proxy.example/api/v1/openai', '/v1/chat/completions', '', '/api/v1/openai/v1/chat/completions'],
    ['http://127.0.0.1:8080/v1', '/v1/models/claude-x', '', '/v1/models/claude-x'],
  ])('%s + %s%s', (base, path, query, want) => {
    expect(buildUpstreamPath(plain, compileBaseUrl('r', base), 'anthropic_messages', path, query, false)).toBe(want);
  });

  it('Vertex: model in path with :rawPredict, :streamRawPredict when streaming, client path and query unused', () => {
    const base = compileBaseUrl('r', 'https://us-east5-aiplatform.googleapis.com/v1/projects/p/locations/us-east5/publishers/anthropic/models');
    const route = { name: 'r', model: 'claude-sonnet-4@20250514', modelInPath: true, requestPathOverride: ':rawPredict' };
    expect(buildUpstreamPath(route, base, 'anthropic_messages', '/v1/messages', '?beta=true', false)).toBe(
      '/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-sonnet-4@20250514:rawPredict',
    );
    expect(buildUpstreamPath(route, base, 'anthropic_messages', '/v1/messages', '', true)).toBe(
      '/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-sonnet-4@20250514:streamRawPredict',
    );
  });

  it('override without model in path replaces the client path', () => {
    const route = { name: 'r', model: 'm', modelInPath: false, requestPathOverride: '/chat/completions' };
    expect(buildUpstreamPath(route, compileBaseUrl('r', 'https://h/v1beta1/endpoints/openapi'), 'openai_chat_completions', '/v1/chat/completions', '', false)).toBe(
      '/v1beta1/endpoints/openapi/chat/completions',
    );
  });

  it('model in path without override: {base}/{model}{path}', () => {
    const route = { name: 'r', model: 'm-1', modelInPath: true, requestPathOverride: undefined };
    expect(buildUpstreamPath(route, compileBaseUrl('r', 'https://h/base'), 'anthropic_messages', '/v1/messages', '?q=1', false)).toBe('/base/m-1/v1/messages?q=1');
  });

  it('Bedrock: model id in the path replaced by the route model', () => {
    const route = { name: 'r', model: 'anthropic.claude-3-5-sonnet-20241022-v2:0', modelInPath: undefined, requestPathOverride: undefined };
    expect(buildUpstreamPath(route, compileBaseUrl('r', 'https://bedrock.local'), 'aws_bedrock_invoke', '/model/client-choice/invoke', '', false)).toBe(
      '/model/anthropic.claude-3-5-sonnet-20241022-v2:0/invoke',
    );
  });

  it('refuses a model unsafe for a path', () => {
    const route = { name: 'r', model: '../../admin', modelInPath: true, requestPathOverride: ':rawPredict' };
    expect(() => buildUpstreamPath(route, compileBaseUrl('r', 'https://h/m'), 'anthropic_messages', '/v1/messages', '', false)).toThrow(RouterError);
  });
});

describe('splitTarget / validateTarget', () => {
  it.each([
    ['/v1/messages?beta=true', '/v1/messages', '?beta=true'],
    ['http://inference.local/v1/messages?beta=true', '/v1/messages', '?beta=true'],
    ['https://inference.local', '/', ''],
    ['/v1/models', '/v1/models', ''],
  ])('%s', (target, path, query) => {
    expect(splitTarget(target)).toEqual({ path, query });
  });

  it.each(['/v1/models/../../admin', '/v1/models/%2e%2e/x', '/v1/models/a%2Fb', '/v1//messages', '/v1/models/a\\b', '/v1/mes sages', 'v1/messages'])(
    'rejects %s',
    (path) => {
      expect(() => validateTarget(path, '')).toThrow(/request path rejected/);
    },
  );

  it('rejects a query with spaces or control characters, accepts ordinary ones', () => {
    expect(() => validateTarget('/v1/messages', '?a=b c')).toThrow(RouterError);
    expect(() => validateTarget('/v1/messages', '?a=\x01')).toThrow(RouterError);
    expect(() => validateTarget('/v1/messages', '?beta=true&x=%20y')).not.toThrow();
  });

  it('rejects base URLs with credentials or other schemes', () => {
    expect(() => compileBaseUrl('r', 'https://user:pw@h/v1')).toThrow(/embedded credentials/);
    expect(() => compileBaseUrl('r', 'ftp://h/v1')).toThrow(RouterError);
  });
});
