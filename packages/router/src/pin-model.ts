import { scanTopLevelObject } from './json-members.js';

/**
 * Replaces the value of every top-level `model` member of a JSON object body with `model`, in place:
 * every other byte stays identical (Claude Code signs parts of its body). Keys spelled with escapes
 * (`"mod\u0065l"`) and duplicate keys are replaced too, so a client cannot smuggle its own model past
 * the pin. Non-JSON bodies, non-object bodies and bodies without a top-level `model` are returned
 * untouched (the same Buffer), as is a body whose model already equals the pin.
 */
export function pinModel(body: Buffer, model: string): Buffer {
  const obj = scanTopLevelObject(body);
  if (obj === undefined) return body;
  let replacement: Buffer | undefined;
  const parts: Buffer[] = [];
  let last = 0;
  for (const m of obj.members) {
    if (m.key !== 'model') continue;
    replacement ??= Buffer.from(JSON.stringify(model), 'utf8');
    const len = m.valueEnd - m.valueStart;
    if (len === replacement.length && body.compare(replacement, 0, len, m.valueStart, m.valueEnd) === 0) continue;
    parts.push(body.subarray(last, m.valueStart), replacement);
    last = m.valueEnd;
  }
  if (parts.length === 0) return body;
  parts.push(body.subarray(last));
  return Buffer.concat(parts);
}
