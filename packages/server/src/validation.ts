import type { z } from 'zod';
import { GatewayError } from './errors.js';

/** Where a value came from, used as the first segment of the field path in error messages. */
export type RequestPart = 'body' | 'query' | 'params';

function fieldPath(part: RequestPart, path: readonly PropertyKey[]): string {
  return [part, ...path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))].join('.').replace(/\.\[/g, '[');
}

/**
 * Parses one part of a request with a zod schema. Failure is an `invalid_request` GatewayError whose
 * message lists every problem with its field path (`body.credentials.KEY: …`) and whose `field` is
 * the first one.
 */
export function parseRequest<S extends z.ZodType>(schema: S, value: unknown, part: RequestPart): z.output<S> {
  const result = schema.safeParse(value ?? (part === 'body' ? undefined : {}));
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({ field: fieldPath(part, i.path), message: i.message }));
  const first = issues[0];
  throw new GatewayError('invalid_request', issues.map((i) => `${i.field}: ${i.message}`).join('; '), {
    ...(first === undefined ? {} : { field: first.field }),
  });
}
