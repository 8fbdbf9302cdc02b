import { Secret } from '@openshell/core';

const REDACTED = '[REDACTED]';
/** Shorter values are not scrubbed: they would blank out ordinary words in log lines. */
const MIN_SCRUB_LENGTH = 8;
const DEFAULT_CAPACITY = 10_000;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The live secret values this gateway holds (every credential it unseals, every token it mints).
 * {@link SecretRegistry.scrub} replaces each occurrence — raw or JSON-escaped — with `[REDACTED]`,
 * so a secret cannot leak through a free-text log message or an error, even one from a library.
 * Bounded: the least recently registered values are forgotten past `capacity`.
 */
export class SecretRegistry {
  readonly #values = new Map<string, true>();
  readonly #capacity: number;
  #pattern: RegExp | undefined;
  #dirty = false;

  constructor(options?: { capacity?: number }) {
    this.#capacity = options?.capacity ?? DEFAULT_CAPACITY;
  }

  /** Remembers a secret value (a string or a core `Secret`); blank and very short values are ignored. */
  register(value: string | Secret): void {
    const raw = Secret.isSecret(value) ? value.reveal() : value;
    if (raw.trim().length < MIN_SCRUB_LENGTH) return;
    const forms = new Set([raw, JSON.stringify(raw).slice(1, -1)]);
    for (const form of forms) {
      if (this.#values.has(form)) this.#values.delete(form);
      this.#values.set(form, true);
    }
    while (this.#values.size > this.#capacity) {
      const oldest = this.#values.keys().next().value;
      if (oldest === undefined) break;
      this.#values.delete(oldest);
    }
    this.#dirty = true;
  }

  /** Number of registered forms (for tests and metrics). */
  get size(): number {
    return this.#values.size;
  }

  /** `text` with every registered secret replaced by `[REDACTED]`. */
  scrub(text: string): string {
    if (this.#values.size === 0) return text;
    if (this.#dirty || this.#pattern === undefined) {
      // Longest first so a secret that contains another is replaced whole.
      const alternatives = [...this.#values.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp);
      this.#pattern = new RegExp(alternatives.join('|'), 'g');
      this.#dirty = false;
    }
    return text.replace(this.#pattern, REDACTED);
  }
}
