import type { IncomingMessage, ServerResponse } from 'node:http';
import { type AccessTokenLedger, createAccessTokenLedger } from './access-token-ledger.js';
import {
  ANTHROPIC_ERRORS,
  anthropicError,
  errorTypeForStatus,
  hasClaudeCodeIdentity,
  isHaikuModel,
  OAUTH_BETA,
} from './anthropic-contract.js';
import {
  delay,
  headerValues,
  type LoopbackServer,
  type RecordedRequest,
  sendJson,
  startLoopbackServer,
} from './loopback-server.js';

/** How the fake authenticates callers. */
export type FakeAnthropicAuth = 'oauth' | 'apiKey';

/** What a reply function is given. */
export interface ReplyContext {
  readonly model: string;
  /** Text of the last user message (its string content, or its last text block). */
  readonly lastUserText: string;
  /** The parsed request body. */
  readonly body: Record<string, unknown>;
  readonly request: RecordedRequest;
}

/** One SSE event about to be written, given to the stream hook. */
export interface StreamEventInfo {
  /** 0-based position of the event in this response. */
  readonly index: number;
  /** SSE event name (`message_start`, `content_block_delta`, …). */
  readonly name: string;
  readonly request: RecordedRequest;
}

/** Shape of SSE answers. */
export interface StreamSettings {
  /** Number of `content_block_delta` events the reply text is split into (default 3, at least 1). */
  deltas?: number;
  /** Pause between events in ms (default 0). */
  intervalMs?: number;
  /** Send a `ping` event after `content_block_start`, as the real API does (default true). */
  ping?: boolean;
  /** Awaited before each event is written: lets causal tests hold or observe the stream. */
  beforeEvent?: (event: StreamEventInfo) => void | Promise<void>;
}

/** A forced answer or delivery fault for the next matching request(s). */
export type FakeAnthropicBehaviour =
  /** Answer `status` with an Anthropic error body (type/message default from the status). */
  | {
      kind: 'error';
      status: number;
      type?: string;
      message?: string;
      /** Raw body instead of the Anthropic error shape. */
      body?: string;
      headers?: Record<string, string>;
    }
  /** Read the request and never answer (until the client gives up or close()). */
  | { kind: 'hang' }
  /** Reset the connection before any header. */
  | { kind: 'destroy' }
  /** Hold before headers until `until` settles, then answer normally. */
  | { kind: 'hold'; until: Promise<unknown> }
  /** Answer normally, then reset the connection after `afterEvents` SSE events (JSON: after half the body). */
  | { kind: 'reset-mid-stream'; afterEvents?: number }
  /** Answer normally, writing the body `chunkBytes` bytes (default 1) at a time, `delayMs` apart (default 2). */
  | { kind: 'slow'; chunkBytes?: number; delayMs?: number }
  /**
   * SSE only: after `afterEvents` events (default 3) send an `error` event, as the real API does for a
   * mid-stream failure (default `overloaded_error` "Overloaded"), then end the stream.
   */
  | { kind: 'stream-error'; afterEvents?: number; type?: string; message?: string };

/** Options of {@link createFakeAnthropic}. */
export interface FakeAnthropicOptions {
  /** `oauth` (Bearer + oauth beta, subscription rules; default) or `apiKey` (x-api-key). */
  auth?: FakeAnthropicAuth;
  /** Accepted bearer tokens; pass a fake token endpoint's `ledger` to link them. */
  ledger?: AccessTokenLedger;
  /** Shortcut for `ledger: tokenEndpoint.ledger`. */
  tokenEndpoint?: { readonly ledger: AccessTokenLedger };
  /** Bearer tokens valid from the start (added to the ledger, no expiry). */
  accessTokens?: readonly string[];
  /** Accepted x-api-key values in `apiKey` mode. */
  apiKeys?: readonly string[];
  /** Subscription identity gate for non-Haiku models (default: on in `oauth` mode). */
  identityGate?: boolean;
  /** Message for a rotated-away (revoked) token: `expired` (default, issue #8) or `invalid`. */
  revokedAnswer?: 'expired' | 'invalid';
  /** Reply text (default: `You said: <last user text>`). */
  reply?: string | ((context: ReplyContext) => string);
  /** Model ids listed by /v1/models (every `claude-*` id is accepted by Messages). */
  models?: readonly string[];
  /** SSE settings. */
  stream?: StreamSettings;
  /** Reject requests without `anthropic-version` like the real API (default true). */
  requireVersion?: boolean;
  /** Keep only the most recent N recorded requests (default: all); benchmarks set a small N. */
  recordLimit?: number;
}

/** Settings that can be changed while the fake runs. */
export type FakeAnthropicSettings = Pick<
  FakeAnthropicOptions,
  'identityGate' | 'revokedAnswer' | 'reply' | 'stream' | 'requireVersion' | 'apiKeys'
>;

/** Which requests a forced behaviour applies to. */
export interface ForceOptions {
  /** How many matching requests get it (default 1). */
  times?: number;
  /** Only requests whose path equals this (default: any path). */
  path?: string;
}

/** A running fake Anthropic API. */
export interface FakeAnthropic {
  /** Base URL, e.g. `http://127.0.0.1:41234` (use as the SDK's `baseURL`). */
  readonly url: string;
  /** Requests received since start or the last reset(), in order (the last `recordLimit` only). */
  readonly requests: readonly RecordedRequest[];
  /** Number of requests received since start or the last reset(), recorded or not. */
  readonly requestCount: number;
  /** The token set bearer tokens are checked against. */
  readonly ledger: AccessTokenLedger;
  /** Forces `behaviour` on the next matching request(s); queued behaviours apply in order. */
  force(behaviour: FakeAnthropicBehaviour, options?: ForceOptions): void;
  /** Changes settings for later requests. */
  configure(settings: FakeAnthropicSettings): void;
  /** Resolves once at least `count` requests arrived; rejects after `timeoutMs` (default 5000). */
  waitForRequests(count: number, timeoutMs?: number): Promise<readonly RecordedRequest[]>;
  /** Clears recorded requests and forced behaviours (tokens and settings stay). */
  reset(): void;
  close(): Promise<void>;
}

interface ForcedEntry {
  behaviour: FakeAnthropicBehaviour;
  remaining: number;
  path: string | undefined;
}

const DEFAULT_MODELS = ['claude-opus-4-6', 'claude-sonnet-5-5', 'claude-sonnet-4-6', 'claude-haiku-4-5'] as const;

/** Whether the fake serves `model`: listed, or any `claude-*` id (Claude Code picks its own defaults). */
function knownModel(models: readonly string[], model: string): boolean {
  return model.startsWith('claude-') || models.includes(model);
}

/** Rough, deterministic token estimate (4 bytes a token). */
export function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(Buffer.byteLength(text) / 4));
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((block: unknown) =>
      typeof block === 'object' && block !== null && (block as { type?: unknown }).type === 'text'
        ? String((block as { text?: unknown }).text ?? '')
        : '',
    )
    .join('');
}

/** Text of the last user message: its string content, or its last text block (Claude Code puts
 * `<system-reminder>` blocks before the prompt). */
function lastUserText(messages: unknown): string {
  if (!Array.isArray(messages)) return '';
  for (let i = messages.length - 1; i >= 0; i--) {
    const message: unknown = messages[i];
    if (typeof message === 'object' && message !== null && (message as { role?: unknown }).role === 'user') {
      const content = (message as { content?: unknown }).content;
      if (!Array.isArray(content)) return textOf(content);
      const texts = content.map((block: unknown) => textOf([block])).filter((text) => text !== '');
      return texts.at(-1) ?? '';
    }
  }
  return '';
}

function splitText(text: string, parts: number): string[] {
  const count = Math.max(1, Math.min(parts, Math.max(1, text.length)));
  const size = Math.ceil(text.length / count);
  const chunks: string[] = [];
  for (let i = 0; i < count; i++) chunks.push(text.slice(i * size, (i + 1) * size));
  return chunks;
}

/** Writes and waits until the bytes reached the socket, so a later reset cannot discard them. */
function write(response: ServerResponse, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve) => {
    response.write(bytes, () => resolve());
  });
}

function sse(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * Starts a loopback fake of Anthropic's Messages API (`/v1/messages`, `/v1/messages/count_tokens`,
 * `/v1/models`) that follows the subscription contract: OAuth bearer rules, the oauth beta flag, the
 * Claude Code identity gate, real error shapes and SSE event sequence. Records every request.
 */
export async function createFakeAnthropic(options: FakeAnthropicOptions = {}): Promise<FakeAnthropic> {
  const auth: FakeAnthropicAuth = options.auth ?? 'oauth';
  const ledger = options.ledger ?? options.tokenEndpoint?.ledger ?? createAccessTokenLedger();
  for (const token of options.accessTokens ?? []) ledger.allow(token);
  const models = [...(options.models ?? DEFAULT_MODELS)];
  const settings: FakeAnthropicSettings = {
    identityGate: options.identityGate ?? auth === 'oauth',
    revokedAnswer: options.revokedAnswer ?? 'expired',
    reply: options.reply ?? ((context: ReplyContext) => `You said: ${context.lastUserText}`),
    stream: options.stream ?? {},
    requireVersion: options.requireVersion ?? true,
    apiKeys: options.apiKeys ?? [],
  };
  let requests: RecordedRequest[] = [];
  let requestCount = 0;
  const recordLimit = options.recordLimit ?? Number.POSITIVE_INFINITY;
  let forced: ForcedEntry[] = [];
  let messageCounter = 0;
  const waiters = new Set<() => void>();

  const takeForced = (path: string): FakeAnthropicBehaviour | undefined => {
    const entry = forced.find((candidate) => candidate.path === undefined || candidate.path === path);
    if (!entry) return undefined;
    entry.remaining -= 1;
    if (entry.remaining <= 0) forced = forced.filter((candidate) => candidate !== entry);
    return entry.behaviour;
  };

  const fail = (response: ServerResponse, recorded: RecordedRequest, status: number, message: string, type?: string) => {
    recorded.status = status;
    sendJson(response, status, anthropicError(type ?? errorTypeForStatus(status), message), {
      'request-id': `req_fake_${recorded.index}`,
    });
  };

  /** Returns an error to answer with, or undefined when the caller is authenticated. */
  const authenticate = (recorded: RecordedRequest): { status: number; message: string } | undefined => {
    const apiKeys = headerValues(recorded, 'x-api-key');
    const authorization = headerValues(recorded, 'authorization');
    if (auth === 'apiKey') {
      const key = apiKeys[0];
      if (key === undefined) return { status: 401, message: ANTHROPIC_ERRORS.apiKeyRequired };
      if (apiKeys.length > 1 || !(settings.apiKeys ?? []).includes(key)) {
        return { status: 401, message: ANTHROPIC_ERRORS.invalidApiKey };
      }
      return undefined;
    }
    // A subscription credential never travels as x-api-key; any x-api-key is an invalid API key.
    if (apiKeys.length > 0) return { status: 401, message: ANTHROPIC_ERRORS.invalidApiKey };
    if (authorization.length === 0) return { status: 401, message: ANTHROPIC_ERRORS.apiKeyRequired };
    const match = authorization.length === 1 ? /^Bearer (\S+)$/i.exec(authorization[0]!) : null;
    if (!match) return { status: 401, message: ANTHROPIC_ERRORS.invalidBearer };
    const betas = headerValues(recorded, 'anthropic-beta')
      .flatMap((value) => value.split(','))
      .map((flag) => flag.trim());
    if (!betas.includes(OAUTH_BETA)) return { status: 401, message: ANTHROPIC_ERRORS.oauthNotSupported };
    switch (ledger.status(match[1]!)) {
      case 'valid':
        return undefined;
      case 'expired':
        return { status: 401, message: ANTHROPIC_ERRORS.oauthExpired };
      case 'revoked':
        return {
          status: 401,
          message: settings.revokedAnswer === 'invalid' ? ANTHROPIC_ERRORS.invalidCredentials : ANTHROPIC_ERRORS.oauthExpired,
        };
      default:
        return { status: 401, message: ANTHROPIC_ERRORS.invalidOAuthToken };
    }
  };

  const deliver = async (
    request: IncomingMessage,
    response: ServerResponse,
    recorded: RecordedRequest,
    status: number,
    headers: Record<string, string>,
    chunks: readonly { name: string; data: string }[],
    delivery: FakeAnthropicBehaviour | undefined,
    isStream: boolean,
  ) => {
    recorded.status = status;
    const streamSettings = settings.stream ?? {};
    const total = chunks.reduce((sum, chunk) => sum + Buffer.byteLength(chunk.data), 0);
    response.writeHead(status, isStream ? headers : { ...headers, 'content-length': String(total) });
    if (isStream) response.flushHeaders();
    let aborted = false;
    response.on('close', () => {
      aborted = !response.writableFinished;
    });
    const resetAfter =
      delivery?.kind === 'reset-mid-stream' ? (isStream ? (delivery.afterEvents ?? 2) : undefined) : undefined;
    for (let index = 0; index < chunks.length; index++) {
      const chunk = chunks[index]!;
      if (aborted || response.destroyed) return;
      if (isStream) await streamSettings.beforeEvent?.({ index, name: chunk.name, request: recorded });
      if (resetAfter !== undefined && index >= resetAfter) {
        request.socket.destroy();
        return;
      }
      let bytes = Buffer.from(chunk.data);
      if (delivery?.kind === 'reset-mid-stream' && !isStream) {
        await write(response, bytes.subarray(0, Math.floor(bytes.length / 2)));
        request.socket.destroy();
        return;
      }
      if (delivery?.kind === 'slow') {
        const step = Math.max(1, delivery.chunkBytes ?? 1);
        while (bytes.length > 0 && !response.destroyed) {
          await write(response, bytes.subarray(0, step));
          bytes = bytes.subarray(step);
          await delay(delivery.delayMs ?? 2);
        }
      } else {
        await write(response, bytes);
      }
      if (isStream && (streamSettings.intervalMs ?? 0) > 0 && index < chunks.length - 1) {
        await delay(streamSettings.intervalMs ?? 0);
      }
    }
    response.end();
  };

  const handleMessages = async (
    request: IncomingMessage,
    response: ServerResponse,
    recorded: RecordedRequest,
    body: Record<string, unknown>,
    model: string,
    delivery: FakeAnthropicBehaviour | undefined,
  ) => {
    if (!Array.isArray(body.messages)) return fail(response, recorded, 400, 'messages: Field required');
    if (typeof body.max_tokens !== 'number') return fail(response, recorded, 400, 'max_tokens: Field required');
    if (settings.identityGate && auth === 'oauth' && !isHaikuModel(model) && !hasClaudeCodeIdentity(body.system)) {
      return fail(response, recorded, 400, ANTHROPIC_ERRORS.claudeCodeOnly);
    }
    const context: ReplyContext = { model, lastUserText: lastUserText(body.messages), body, request: recorded };
    const reply = typeof settings.reply === 'function' ? settings.reply(context) : (settings.reply ?? '');
    messageCounter += 1;
    const id = `msg_fake_${String(messageCounter).padStart(6, '0')}`;
    const inputTokens = estimateTokens(JSON.stringify(body.messages) + JSON.stringify(body.system ?? ''));
    const baseHeaders = { 'request-id': `req_fake_${recorded.index}` };
    if (body.stream === true) {
      const streamSettings = settings.stream ?? {};
      const deltas = splitText(reply, streamSettings.deltas ?? 3);
      const events: { name: string; data: string }[] = [];
      const push = (name: string, data: unknown) => events.push({ name, data: sse(name, data) });
      push('message_start', {
        type: 'message_start',
        message: {
          id,
          type: 'message',
          role: 'assistant',
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: {
            input_tokens: inputTokens,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 0,
            output_tokens: 1,
            service_tier: 'standard',
          },
        },
      });
      push('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
      if (streamSettings.ping ?? true) push('ping', { type: 'ping' });
      for (const text of deltas) {
        push('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } });
      }
      push('content_block_stop', { type: 'content_block_stop', index: 0 });
      push('message_delta', {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: {
          input_tokens: inputTokens,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
          output_tokens: deltas.length,
        },
      });
      push('message_stop', { type: 'message_stop' });
      if (delivery?.kind === 'stream-error') {
        events.splice(delivery.afterEvents ?? 3);
        push('error', {
          type: 'error',
          error: { type: delivery.type ?? 'overloaded_error', message: delivery.message ?? ANTHROPIC_ERRORS.overloaded },
        });
      }
      return deliver(
        request,
        response,
        recorded,
        200,
        { ...baseHeaders, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' },
        events,
        delivery,
        true,
      );
    }
    const message = {
      id,
      type: 'message',
      role: 'assistant',
      model,
      content: [{ type: 'text', text: reply }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: {
        input_tokens: inputTokens,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        output_tokens: estimateTokens(reply),
        service_tier: 'standard',
      },
    };
    return deliver(
      request,
      response,
      recorded,
      200,
      { ...baseHeaders, 'content-type': 'application/json' },
      [{ name: 'message', data: JSON.stringify(message) }],
      delivery,
      false,
    );
  };

  const modelInfo = (id: string) => ({
    type: 'model',
    id,
    display_name: id,
    created_at: '2026-01-01T00:00:00Z',
  });

  const handle = async (request: IncomingMessage, response: ServerResponse, recorded: RecordedRequest) => {
    let delivery = takeForced(recorded.path);
    if (delivery?.kind === 'hold') {
      await delivery.until;
      delivery = undefined;
    }
    if (delivery?.kind === 'hang') return;
    if (delivery?.kind === 'destroy') {
      request.socket.destroy();
      return;
    }
    if (delivery?.kind === 'error') {
      const status = delivery.status;
      recorded.status = status;
      const headers: Record<string, string> = { 'request-id': `req_fake_${recorded.index}`, ...delivery.headers };
      if (status === 429 && !Object.keys(headers).some((key) => key.toLowerCase() === 'retry-after')) {
        headers['retry-after'] = '1';
      }
      if (delivery.body !== undefined) {
        response.writeHead(status, { 'content-type': 'text/plain', ...headers });
        response.end(delivery.body);
        return;
      }
      const defaultMessage =
        status === 401
          ? auth === 'oauth'
            ? ANTHROPIC_ERRORS.oauthExpired
            : ANTHROPIC_ERRORS.invalidApiKey
          : status === 429
            ? ANTHROPIC_ERRORS.rateLimited
            : status === 529
              ? ANTHROPIC_ERRORS.overloaded
              : status === 403
                ? ANTHROPIC_ERRORS.revoked
                : status >= 500
                  ? ANTHROPIC_ERRORS.internal
                  : 'Error';
      sendJson(
        response,
        status,
        anthropicError(delivery.type ?? errorTypeForStatus(status), delivery.message ?? defaultMessage),
        headers,
      );
      return;
    }

    const method = recorded.method;
    const path = recorded.path;
    const route =
      method === 'POST' && path === '/v1/messages'
        ? 'messages'
        : method === 'POST' && path === '/v1/messages/count_tokens'
          ? 'count_tokens'
          : method === 'GET' && path === '/v1/models'
            ? 'models'
            : method === 'GET' && path.startsWith('/v1/models/')
              ? 'model'
              : undefined;
    if (route === undefined) return fail(response, recorded, 404, `Not found: ${method} ${path}`);
    if (headerValues(recorded, 'anthropic-beta').length > 1) {
      return fail(
        response,
        recorded,
        400,
        'anthropic-beta: send one header line with comma-separated values, not several lines',
      );
    }
    if (settings.requireVersion && headerValues(recorded, 'anthropic-version').length === 0) {
      return fail(response, recorded, 400, ANTHROPIC_ERRORS.versionRequired);
    }
    const authError = authenticate(recorded);
    if (authError) return fail(response, recorded, authError.status, authError.message);

    if (route === 'models') {
      recorded.status = 200;
      return sendJson(response, 200, {
        data: models.map(modelInfo),
        has_more: false,
        first_id: models[0] ?? null,
        last_id: models[models.length - 1] ?? null,
      });
    }
    if (route === 'model') {
      const id = decodeURIComponent(path.slice('/v1/models/'.length));
      if (!knownModel(models, id)) return fail(response, recorded, 404, `model: ${id}`);
      recorded.status = 200;
      return sendJson(response, 200, modelInfo(id));
    }
    let body: unknown;
    try {
      body = JSON.parse(recorded.body.toString('utf8'));
    } catch {
      return fail(response, recorded, 400, 'There was an error parsing the body of your request: invalid JSON');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return fail(response, recorded, 400, 'Request body must be a JSON object');
    }
    const fields = body as Record<string, unknown>;
    if (typeof fields.model !== 'string') return fail(response, recorded, 400, 'model: Field required');
    const model = fields.model;
    if (!knownModel(models, model)) {
      return fail(response, recorded, 404, `model: ${model}`);
    }
    if (route === 'count_tokens') {
      if (!Array.isArray(fields.messages)) return fail(response, recorded, 400, 'messages: Field required');
      recorded.status = 200;
      return sendJson(response, 200, {
        input_tokens: estimateTokens(JSON.stringify(fields.messages) + JSON.stringify(fields.system ?? '')),
      });
    }
    return handleMessages(request, response, recorded, fields, model, delivery);
  };

  const server: LoopbackServer = await startLoopbackServer(handle, (partial) => {
    const recorded: RecordedRequest = { ...partial, index: requestCount };
    requestCount += 1;
    requests.push(recorded);
    if (requests.length > recordLimit) requests.splice(0, requests.length - recordLimit);
    for (const wake of [...waiters]) wake();
    return recorded;
  });

  return {
    url: server.url,
    get requests() {
      return requests;
    },
    get requestCount() {
      return requestCount;
    },
    ledger,
    force(behaviour, forceOptions = {}) {
      forced.push({ behaviour, remaining: forceOptions.times ?? 1, path: forceOptions.path });
    },
    configure(next) {
      Object.assign(settings, next);
    },
    waitForRequests(count, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (requestCount >= count) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve(requests);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`fake Anthropic saw ${requestCount} of ${count} expected requests in ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    reset() {
      requests = [];
      requestCount = 0;
      forced = [];
    },
    close: () => server.close(),
  };
}
