import net from 'node:net';

/**
 * Sends `bytes` (one write per element, `gapMs` apart) on a new TCP (`{ port }`, loopback) or Unix
 * (`{ path }`) connection; resolves with everything that came back once the peer closes, or after
 * `timeoutMs` (then `closed` is still true: the socket was destroyed here).
 */
export function exchange(
  target: { port: number } | { path: string },
  bytes: string | Buffer | Array<string | Buffer>,
  timeoutMs = 3_000,
  gapMs = 0,
): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = 'port' in target ? net.connect({ host: '127.0.0.1', port: target.port }) : net.connect({ path: target.path });
    let text = '';
    let closed = false;
    const timer = setTimeout(() => s.destroy(), timeoutMs);
    s.on('data', (c: Buffer) => {
      text += c.toString('latin1');
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      closed = true;
      clearTimeout(timer);
      resolve({ text, closed });
    });
    s.on('connect', async () => {
      for (const chunk of Array.isArray(bytes) ? bytes : [bytes]) {
        if (s.destroyed) return;
        s.write(chunk);
        if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
      }
    });
  });
}
