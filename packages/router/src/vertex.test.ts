import { describe, expect, it } from 'vitest';
import { VERTEX_ANTHROPIC_VERSION, shapeVertexAnthropicBody } from './vertex.js';

const shape = (s: string) => {
  const r = shapeVertexAnthropicBody(Buffer.from(s));
  return { body: r.body.toString(), stream: r.stream };
};

describe('shapeVertexAnthropicBody', () => {
  it('removes model and context_management, inserts anthropic_version, keeps member bytes', () => {
    const r = shape('{"model":"x","messages":[{"role":"user","content":"hi"}],"context_management":{"a":1},"max_tokens":  5}');
    expect(r.body).toBe(`{"anthropic_version":"${VERTEX_ANTHROPIC_VERSION}","messages":[{"role":"user","content":"hi"}],"max_tokens":  5}`);
    expect(r.stream).toBe(false);
  });

  it("keeps the client's anthropic_version and detects streaming", () => {
    const r = shape('{"anthropic_version":"vertex-2099","stream":true,"model":"x"}');
    expect(JSON.parse(r.body)).toEqual({ anthropic_version: 'vertex-2099', stream: true });
    expect(r.stream).toBe(true);
  });

  it('passes non-JSON untouched', () => {
    expect(shape('not json').body).toBe('not json');
  });
});
