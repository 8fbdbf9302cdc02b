import { scanTopLevelObject, topLevelIsTrue } from './json-members.js';

/** `anthropic_version` Vertex AI expects in the body of Anthropic rawPredict calls. */
export const VERTEX_ANTHROPIC_VERSION = 'vertex-2023-10-16';

/** Body fields Vertex AI's Anthropic endpoint rejects. */
const VERTEX_UNSUPPORTED_FIELDS = new Set(['model', 'context_management']);

/** Result of shaping a body for Anthropic-on-Vertex. */
export interface VertexShapedBody {
  readonly body: Buffer;
  /** The client asked for a stream (`"stream": true`), so the URL uses `:streamRawPredict`. */
  readonly stream: boolean;
}

/**
 * Shapes an Anthropic Messages body for Vertex AI rawPredict, as upstream does: the model moves to the
 * URL, so `model` is removed; `context_management` is removed; `anthropic_version` is inserted when
 * absent. Each kept member's bytes are copied unchanged (only the separators between members are
 * rewritten). Non-object bodies pass untouched.
 */
export function shapeVertexAnthropicBody(body: Buffer): VertexShapedBody {
  const obj = scanTopLevelObject(body);
  if (obj === undefined) return { body, stream: false };
  const stream = topLevelIsTrue(obj, body, 'stream');
  const hasVersion = obj.members.some((m) => m.key === 'anthropic_version');
  const parts: Buffer[] = [body.subarray(0, obj.open + 1)];
  let first = true;
  if (!hasVersion) {
    parts.push(Buffer.from(`"anthropic_version":${JSON.stringify(VERTEX_ANTHROPIC_VERSION)}`));
    first = false;
  }
  for (const m of obj.members) {
    if (VERTEX_UNSUPPORTED_FIELDS.has(m.key)) continue;
    if (!first) parts.push(COMMA);
    parts.push(body.subarray(m.keyStart, m.valueEnd));
    first = false;
  }
  parts.push(body.subarray(obj.close));
  return { body: Buffer.concat(parts), stream };
}

const COMMA = Buffer.from(',');
