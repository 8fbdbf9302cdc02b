import type { FastifyInstance } from 'fastify';
import { GatewayError } from './errors.js';

/** Keys refused anywhere in a body: they could reach an object's prototype when copied around. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Parses a JSON request body with messages that say what is wrong (never echoing the body, which may
 * hold a secret): invalid JSON, or a forbidden key (`__proto__`, `constructor`, `prototype`) named with
 * its path. An empty body counts as no body, so endpoints whose body is optional accept it.
 */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') return undefined;
  let forbidden: string | undefined;
  let value: unknown;
  try {
    value = JSON.parse(text, (key, v: unknown) => {
      if (FORBIDDEN_KEYS.has(key)) forbidden ??= key;
      return v;
    });
  } catch {
    throw new GatewayError('invalid_json', 'the body is not valid JSON; send a JSON object with Content-Type: application/json');
  }
  if (forbidden !== undefined) {
    throw new GatewayError('invalid_json', `the body contains the key '${forbidden}', which is not allowed anywhere in a request`);
  }
  return value;
}

/** Replaces fastify's JSON parser with {@link parseJsonBody} (the body limit still applies first). */
export function useJsonBodyParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
}
