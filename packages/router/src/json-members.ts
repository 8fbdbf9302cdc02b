/**
 * A small scanner over the top-level object of a JSON document held as raw bytes. It finds each
 * top-level member's key and value byte ranges without building values, skipping strings (with their
 * escapes) and nested values correctly, so callers can edit one member and leave every other byte
 * identical. Anything that is not a single JSON object yields `undefined`.
 */

/** One top-level member: byte ranges are `[start, end)` into the scanned buffer. */
export interface JsonMember {
  /** The decoded key (escapes resolved, so `"mod\u0065l"` reads as `model`). */
  readonly key: string;
  readonly keyStart: number;
  readonly valueStart: number;
  readonly valueEnd: number;
}

/** The top-level object: position of `{` and `}` and its members in order (duplicates kept). */
export interface JsonTopLevelObject {
  readonly open: number;
  readonly close: number;
  readonly members: readonly JsonMember[];
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isWs(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function skipWs(buf: Uint8Array, i: number): number {
  while (i < buf.length && isWs(buf[i])) i++;
  return i;
}

/** `i` at an opening quote; returns the index after the closing quote, or -1. */
function skipString(buf: Buffer, i: number): number {
  let j = i + 1;
  for (;;) {
    const q = buf.indexOf(QUOTE, j);
    if (q === -1) return -1;
    let backslashes = 0;
    for (let k = q - 1; k > i && buf[k] === BACKSLASH; k--) backslashes++;
    if (backslashes % 2 === 0) return q + 1;
    j = q + 1;
  }
}

function skipLiteral(buf: Buffer, i: number, word: string): number {
  for (let k = 0; k < word.length; k++) if (buf[i + k] !== word.charCodeAt(k)) return -1;
  return i + word.length;
}

function skipNumber(buf: Buffer, i: number): number {
  const start = i;
  for (; i < buf.length; i++) {
    const c = buf[i] as number;
    // digits, + - . e E
    if ((c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45) continue;
    break;
  }
  return i === start ? -1 : i;
}

/** Skips an array or object, tracking bracket pairs; returns the index after it, or -1. */
function skipNested(buf: Buffer, i: number): number {
  const closers: number[] = [];
  for (; i < buf.length; i++) {
    const c = buf[i] as number;
    if (c === QUOTE) {
      const end = skipString(buf, i);
      if (end === -1) return -1;
      i = end - 1;
    } else if (c === 0x7b) closers.push(0x7d);
    else if (c === 0x5b) closers.push(0x5d);
    else if (c === 0x7d || c === 0x5d) {
      if (closers.pop() !== c) return -1;
      if (closers.length === 0) return i + 1;
    }
  }
  return -1;
}

function skipValue(buf: Buffer, i: number): number {
  const c = buf[i];
  if (c === QUOTE) return skipString(buf, i);
  if (c === 0x7b || c === 0x5b) return skipNested(buf, i);
  if (c === 0x74) return skipLiteral(buf, i, 'true');
  if (c === 0x66) return skipLiteral(buf, i, 'false');
  if (c === 0x6e) return skipLiteral(buf, i, 'null');
  if (c === 0x2d || (c !== undefined && c >= 0x30 && c <= 0x39)) return skipNumber(buf, i);
  return -1;
}

function decodeKey(buf: Buffer, start: number, end: number): string | undefined {
  let escaped = false;
  for (let k = start + 1; k < end - 1; k++) {
    if (buf[k] === BACKSLASH) {
      escaped = true;
      break;
    }
  }
  if (!escaped) return buf.toString('utf8', start + 1, end - 1);
  try {
    const v: unknown = JSON.parse(buf.toString('utf8', start, end));
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Scans the top-level object of a JSON body; `undefined` when the body is not one JSON object. */
export function scanTopLevelObject(buf: Buffer): JsonTopLevelObject | undefined {
  let i = skipWs(buf, 0);
  if (buf[i] !== 0x7b) return undefined;
  const open = i;
  const members: JsonMember[] = [];
  i = skipWs(buf, i + 1);
  if (buf[i] === 0x7d) {
    return skipWs(buf, i + 1) === buf.length ? { open, close: i, members } : undefined;
  }
  for (;;) {
    if (buf[i] !== QUOTE) return undefined;
    const keyStart = i;
    const keyEnd = skipString(buf, i);
    if (keyEnd === -1) return undefined;
    const key = decodeKey(buf, keyStart, keyEnd);
    if (key === undefined) return undefined;
    i = skipWs(buf, keyEnd);
    if (buf[i] !== 0x3a) return undefined;
    const valueStart = skipWs(buf, i + 1);
    const valueEnd = skipValue(buf, valueStart);
    if (valueEnd === -1) return undefined;
    members.push({ key, keyStart, valueStart, valueEnd });
    i = skipWs(buf, valueEnd);
    if (buf[i] === 0x2c) {
      i = skipWs(buf, i + 1);
      continue;
    }
    if (buf[i] !== 0x7d) return undefined;
    return skipWs(buf, i + 1) === buf.length ? { open, close: i, members } : undefined;
  }
}

/** True when the body is a JSON object whose top-level `name` member is the literal `true`. */
export function topLevelIsTrue(obj: JsonTopLevelObject, buf: Buffer, name: string): boolean {
  let result = false;
  // The last duplicate wins, as in JSON.parse.
  for (const m of obj.members) {
    if (m.key === name) result = m.valueEnd - m.valueStart === 4 && skipLiteral(buf, m.valueStart, 'true') !== -1;
  }
  return result;
}
