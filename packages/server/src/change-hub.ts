import type { Store, StoreChange } from './store/index.js';

/** How a wait ended. */
export type WaitOutcome = 'changed' | 'timeout' | 'closed' | 'aborted';

/**
 * A latch armed BEFORE the caller reads state: any matching change after arming is kept, so a change
 * that lands between the read and the wait is never missed.
 */
export interface ChangeLatch {
  /** Resolves at the first matching change since arming (at once if one already happened), on timeout, close or abort. */
  wait(timeoutMs: number, signal?: AbortSignal): Promise<WaitOutcome>;
  /** Stops listening (idempotent). */
  dispose(): void;
}

/**
 * Fans the store's change feed (in-process, and across replicas on Postgres) out to long-poll
 * waiters. Closing the hub releases every waiter at once, so a shutdown never waits for a long poll.
 */
export class ChangeHub {
  readonly #latches = new Set<{ match: (c: StoreChange) => boolean; fire: (o: WaitOutcome) => void }>();
  readonly #unsubscribe: () => void;
  #closed = false;

  constructor(store: Store) {
    this.#unsubscribe = store.watchChanges((change) => {
      for (const latch of [...this.#latches]) {
        try {
          if (latch.match(change)) latch.fire('changed');
        } catch {
          latch.fire('changed');
        }
      }
    });
  }

  /** Number of armed latches (waiting long polls), for metrics. */
  get waiting(): number {
    return this.#latches.size;
  }

  /** Arms a latch for changes that `match`. */
  arm(match: (change: StoreChange) => boolean): ChangeLatch {
    let outcome: WaitOutcome | undefined = this.#closed ? 'closed' : undefined;
    let notify: ((o: WaitOutcome) => void) | undefined;
    const entry = {
      match,
      fire: (o: WaitOutcome) => {
        if (outcome === undefined) outcome = o;
        notify?.(outcome);
      },
    };
    if (!this.#closed) this.#latches.add(entry);
    const dispose = () => {
      this.#latches.delete(entry);
    };
    return {
      dispose,
      wait: (timeoutMs, signal) =>
        new Promise<WaitOutcome>((resolve) => {
          if (outcome !== undefined) return resolve(outcome);
          if (signal?.aborted) return resolve('aborted');
          let settled = false;
          const finish = (o: WaitOutcome) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            signal?.removeEventListener('abort', onAbort);
            notify = undefined;
            resolve(o);
          };
          const onAbort = () => finish('aborted');
          const timer = setTimeout(() => finish('timeout'), Math.max(0, timeoutMs));
          signal?.addEventListener('abort', onAbort, { once: true });
          notify = finish;
        }),
    };
  }

  /** Releases every waiter (`closed`) and stops listening. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    for (const latch of [...this.#latches]) latch.fire('closed');
    this.#latches.clear();
  }
}
