import { randomBytes } from 'node:crypto';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** A random canary secret (`<prefix><24 hex>`): planted where a leak would show, so a hit is never a coincidence. */
export function canary(prefix: string): string {
  return `${prefix}${randomBytes(12).toString('hex')}`;
}

/** Something to search: text or bytes (with an optional label), or a file or directory path. */
export type CanaryHaystack =
  | string
  | Uint8Array
  | { readonly label: string; readonly content: string | Uint8Array }
  | { readonly path: string };

/** The encodings a secret is searched in. */
export type CanaryForm = 'raw' | 'base64' | 'base64url' | 'url-encoded' | 'hex';

/** One place a secret was found. The secret itself is never included. */
export interface CanaryHit {
  /** Index of the secret in the `secrets` argument. */
  secretIndex: number;
  form: CanaryForm;
  /** Label, file path (a file's name counts too, marked `(name)`), or `haystack[i]`. */
  where: string;
  /** Byte offset of the match in that haystack. */
  offset: number;
}

/** Limits that keep a scan bounded. */
export interface CanaryScanOptions {
  /** Most files read from directories (default 20000). */
  maxFiles?: number;
  /** Bytes read from each file (default 64 MiB). */
  maxFileBytes?: number;
}

interface Pattern {
  secretIndex: number;
  form: CanaryForm;
  bytes: Buffer;
}

/**
 * Base64 text that appears whenever `secret` is embedded in base64 at any alignment: for each of the
 * three byte offsets, the characters that depend only on the secret's bytes.
 */
function base64Forms(secret: Buffer): string[] {
  const forms: string[] = [];
  for (const lead of [0, 1, 2]) {
    const encoded = Buffer.concat([Buffer.alloc(lead), secret]).toString('base64');
    const start = lead === 0 ? 0 : lead === 1 ? 2 : 3;
    const end = Math.floor((lead + secret.length) / 3) * 4;
    const stable = encoded.slice(start, end);
    if (stable.length >= 8) forms.push(stable);
  }
  return forms;
}

function patternsFor(secrets: readonly (string | Uint8Array)[]): Pattern[] {
  const patterns: Pattern[] = [];
  secrets.forEach((secret, secretIndex) => {
    const raw = Buffer.from(secret);
    if (raw.length < 4) throw new Error(`canaryScan: secret #${secretIndex} is shorter than 4 bytes; use a longer canary`);
    const seen = new Set<string>();
    const add = (form: CanaryForm, text: string | Buffer) => {
      const bytes = Buffer.from(text);
      const key = bytes.toString('hex');
      if (seen.has(key)) return;
      seen.add(key);
      patterns.push({ secretIndex, form, bytes });
    };
    add('raw', raw);
    for (const form of base64Forms(raw)) {
      add('base64', form);
      add('base64url', form.replace(/\+/g, '-').replace(/\//g, '_'));
    }
    const text = raw.toString('utf8');
    add('url-encoded', encodeURIComponent(text));
    add('url-encoded', new URLSearchParams({ x: text }).toString().slice(2));
    add('hex', raw.toString('hex'));
  });
  return patterns;
}

function search(content: Buffer, where: string, patterns: readonly Pattern[], hits: CanaryHit[]): void {
  for (const pattern of patterns) {
    let from = 0;
    for (let found = 0; found < 100; found++) {
      const offset = content.indexOf(pattern.bytes, from);
      if (offset === -1) break;
      hits.push({ secretIndex: pattern.secretIndex, form: pattern.form, where, offset });
      from = offset + 1;
    }
  }
}

async function scanPath(
  path: string,
  patterns: readonly Pattern[],
  hits: CanaryHit[],
  budget: { files: number; maxFileBytes: number },
): Promise<void> {
  search(Buffer.from(path), `${path} (name)`, patterns, hits);
  const stat = await lstat(path).catch(() => undefined);
  if (!stat || stat.isSymbolicLink()) return;
  if (stat.isDirectory()) {
    const entries = await readdir(path).catch(() => [] as string[]);
    for (const entry of entries.sort()) {
      if (budget.files <= 0) return;
      await scanPath(join(path, entry), patterns, hits, budget);
    }
    return;
  }
  if (!stat.isFile() || budget.files <= 0) return;
  budget.files -= 1;
  const content = await readFile(path).catch(() => undefined);
  if (content) search(content.subarray(0, budget.maxFileBytes), path, patterns, hits);
}

/**
 * Searches strings, buffers, files and directories (recursively, symlinks not followed) for any of
 * `secrets` in raw, base64 (any alignment), base64url, URL-encoded and hex form. Returns every hit;
 * an empty array means no secret was found.
 */
export async function canaryScan(
  haystacks: readonly CanaryHaystack[],
  secrets: readonly (string | Uint8Array)[],
  options: CanaryScanOptions = {},
): Promise<CanaryHit[]> {
  const patterns = patternsFor(secrets);
  const hits: CanaryHit[] = [];
  const budget = { files: options.maxFiles ?? 20_000, maxFileBytes: options.maxFileBytes ?? 64 * 1024 * 1024 };
  for (const [index, haystack] of haystacks.entries()) {
    if (typeof haystack === 'string' || haystack instanceof Uint8Array) {
      search(Buffer.from(haystack), `haystack[${index}]`, patterns, hits);
    } else if ('path' in haystack) {
      await scanPath(haystack.path, patterns, hits, budget);
    } else {
      search(Buffer.from(haystack.content), haystack.label, patterns, hits);
    }
  }
  return hits;
}
