import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

function capture(options: { coalesce?: boolean; level?: 'debug' | 'info' | 'warn' } = {}) {
  const writes: string[] = [];
  const log = createLogger({ stream: { write: (s: string) => writes.push(s) }, ...options });
  return { writes, log };
}

describe('logger', () => {
  it('writes each line at once to a given stream (no coalescing by default)', () => {
    const { writes, log } = capture();
    log.info('first', { a: 1, b: 'two words', skipped: undefined });
    log.warn('second');
    expect(writes).toEqual(['openshell-supervisor: info: first a=1 b="two words"\n', 'openshell-supervisor: warn: second\n']);
  });

  it('coalesces info/debug lines of one event-loop turn into one write, in order', async () => {
    const { writes, log } = capture({ coalesce: true, level: 'debug' });
    log.info('one');
    log.debug('two');
    expect(writes).toEqual([]);
    await nextTurn();
    expect(writes).toEqual(['openshell-supervisor: info: one\nopenshell-supervisor: debug: two\n']);
    log.info('three');
    await nextTurn();
    expect(writes).toHaveLength(2);
    expect(writes[1]).toBe('openshell-supervisor: info: three\n');
  });

  it('a warning or an error leaves at once, after the lines queued before it', async () => {
    const { writes, log } = capture({ coalesce: true });
    log.info('queued');
    log.error('boom');
    expect(writes).toEqual(['openshell-supervisor: info: queued\nopenshell-supervisor: error: boom\n']);
    await nextTurn();
    expect(writes).toHaveLength(1);
  });

  it('holds an exit hook only while lines are pending', async () => {
    const before = process.listenerCount('exit');
    const { writes, log } = capture({ coalesce: true });
    log.info('pending');
    expect(process.listenerCount('exit')).toBe(before + 1);
    await nextTurn();
    expect(writes).toHaveLength(1);
    expect(process.listenerCount('exit')).toBe(before);
  });

  it('drops lines below the level', async () => {
    const { writes, log } = capture({ coalesce: true, level: 'warn' });
    log.info('hidden');
    log.debug('hidden too');
    await nextTurn();
    expect(writes).toEqual([]);
  });
});
