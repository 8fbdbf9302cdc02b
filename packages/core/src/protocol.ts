/** Inference protocol ids the router understands. */
export type Protocol =
  | 'anthropic_messages'
  | 'anthropic_count_tokens'
  | 'openai_chat_completions'
  | 'openai_completions'
  | 'openai_responses'
  | 'openai_embeddings'
  | 'model_discovery'
  | 'aws_bedrock_invoke';

/** Path (below the API version prefix) of each protocol. */
export const PROTOCOL_PATHS: Readonly<Record<Protocol, string>> = {
  anthropic_messages: '/v1/messages',
  anthropic_count_tokens: '/v1/messages/count_tokens',
  openai_chat_completions: '/v1/chat/completions',
  openai_completions: '/v1/completions',
  openai_responses: '/v1/responses',
  openai_embeddings: '/v1/embeddings',
  model_discovery: '/v1/models',
  aws_bedrock_invoke: '/model',
};

/**
 * The protocol of a client request, from its method and path; query strings are ignored.
 * Returns undefined when the request is not an inference call we route.
 */
export function detectProtocol(method: string, pathWithQuery: string): Protocol | undefined {
  const q = pathWithQuery.indexOf('?');
  let path = q === -1 ? pathWithQuery : pathWithQuery.slice(0, q);
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  const m = method.toUpperCase();
  if (m === 'POST') {
    switch (path) {
      case '/v1/messages':
        return 'anthropic_messages';
      case '/v1/messages/count_tokens':
        return 'anthropic_count_tokens';
      case '/v1/chat/completions':
        return 'openai_chat_completions';
      case '/v1/completions':
        return 'openai_completions';
      case '/v1/responses':
        return 'openai_responses';
      case '/v1/embeddings':
        return 'openai_embeddings';
    }
    if (/^\/model\/[^/]+\/invoke$/.test(path)) return 'aws_bedrock_invoke';
    return undefined;
  }
  if (m === 'GET' && (path === '/v1/models' || path.startsWith('/v1/models/'))) return 'model_discovery';
  return undefined;
}
