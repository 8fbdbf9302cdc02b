import { CliError } from './cli-error.js';

const MAX_LINE_BYTES = 64 * 1024;

/** A readable like process.stdin. */
export interface InputStream extends NodeJS.ReadableStream {
  isTTY?: boolean;
  setRawMode?: (mode: boolean) => unknown;
}

/**
 * Reads one line from `input` (up to the first newline or EOF), without the line ending. On a TTY the
 * prompt goes to stderr and, for a secret, the typed characters are not echoed.
 */
export async function readLine(
  what: string,
  options: { secret: boolean; prompt?: string; input?: InputStream; stderr?: NodeJS.WritableStream },
): Promise<string> {
  const input = options.input ?? (process.stdin as InputStream);
  const stderr = options.stderr ?? process.stderr;
  if ((input as { readableEnded?: boolean }).readableEnded === true) return '';
  const tty = input.isTTY === true;
  if (tty && options.prompt) stderr.write(options.prompt);
  const raw = tty && options.secret && typeof input.setRawMode === 'function';
  if (raw) input.setRawMode?.(true);
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let buf = '';
      const finish = (value: string): void => {
        input.off('data', onData);
        input.off('end', onEnd);
        input.off('error', onError);
        input.pause();
        resolve(value);
      };
      const onData = (chunk: Buffer | string): void => {
        const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
        for (const ch of text) {
          if (raw && ch === '\u0003') {
            input.off('data', onData);
            reject(new CliError('interrupted', 'interrupted'));
            return;
          }
          if (ch === '\n' || ch === '\r') {
            finish(buf);
            return;
          }
          if (raw && (ch === '\u007f' || ch === '\b')) {
            buf = buf.slice(0, -1);
            continue;
          }
          buf += ch;
          if (buf.length > MAX_LINE_BYTES) {
            input.off('data', onData);
            reject(new CliError('input_too_long', `${what} read from stdin is longer than ${MAX_LINE_BYTES} bytes`, { hint: 'Pipe only the value, on one line.' }));
            return;
          }
        }
      };
      const onEnd = (): void => finish(buf);
      const onError = (err: Error): void =>
        reject(new CliError('stdin_unreadable', `cannot read ${what} from stdin: ${err.message}`, { hint: 'Pipe the value in, or use the environment variable the command names.' }));
      input.on('data', onData);
      input.once('end', onEnd);
      input.once('error', onError);
      input.resume();
    });
    return line.trim();
  } finally {
    if (raw) {
      input.setRawMode?.(false);
      stderr.write('\n');
    }
  }
}
