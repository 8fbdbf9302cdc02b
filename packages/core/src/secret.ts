const INSPECT = Symbol.for('nodejs.util.inspect.custom');
const REDACTED = '[REDACTED]';
const BRAND = Symbol.for('openshell.secret');

/**
 * A secret value that redacts itself wherever it is printed or serialized by accident: `String()`,
 * template literals, `JSON.stringify`, `console.log`/`util.inspect` and pino all see `[REDACTED]`.
 * Only `.reveal()` returns the value, so every use of the real value is greppable.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** The wrapped value. Call it only where the value leaves for its one legitimate destination. */
  reveal(): string {
    return this.#value;
  }

  /** True when the wrapped value is empty or whitespace only. */
  isBlank(): boolean {
    return this.#value.trim() === '';
  }

  /** Compares with another secret or a plain string without an early exit on the first difference. */
  equals(other: Secret | string): boolean {
    const a = this.#value;
    const b = typeof other === 'string' ? other : other.reveal();
    let diff = a.length ^ b.length;
    const n = Math.max(a.length, b.length);
    for (let i = 0; i < n; i++) diff |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0);
    return diff === 0;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.toPrimitive](): string {
    return REDACTED;
  }

  [INSPECT](): string {
    return `Secret(${REDACTED})`;
  }

  get [Symbol.toStringTag](): string {
    return 'Secret';
  }

  /** Wraps `value` unless it is already a Secret. */
  static from(value: string | Secret): Secret {
    return Secret.isSecret(value) ? value : new Secret(value);
  }

  /** True for a Secret (by brand, so it also works across duplicated copies of the package). */
  static isSecret(value: unknown): value is Secret {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}

Object.defineProperty(Secret.prototype, BRAND, { value: true });

/** The placeholder printed in place of a secret. */
export const REDACTED_PLACEHOLDER = REDACTED;
