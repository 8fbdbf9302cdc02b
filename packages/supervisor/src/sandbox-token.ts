import { createReadStream, fstatSync } from 'node:fs';
import { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { Secret } from '@openshell/core';
import { SupervisorError } from './errors.js';

/** Environment variables that must never carry a sandbox token into the supervisor (scrubbed if present). */
export const TOKEN_ENV_NAMES: readonly string[] = ['OPENSHELL_SANDBOX_TOKEN', 'OPENSHELL_TOKEN'];
const MAX_TOKEN_BYTES = 4096;

/**
 * Reads the sandbox token from an inherited descriptor (a pipe the caller wrote and closed), up to
 * EOF, bounded in size and time, then closes the descriptor. The token never touches argv or env.
 */
export function readTokenFromFd(fd: number, timeoutMs = 10_000): Promise<Secret> {
  return new Promise((resolve, reject) => {
    let stream: Readable;
    try {
      const stat = fstatSync(fd);
      // Pipes and sockets are read on the event loop: a blocking read in the thread pool could keep
      // the process from exiting if the writer never closes its end.
      stream = stat.isFIFO() || stat.isSocket() ? new Socket({ fd, readable: true, writable: false }) : createReadStream('', { fd, autoClose: true });
    } catch (err) {
      reject(new SupervisorError('token_missing', `cannot read the sandbox token from descriptor ${fd}; pass it on an inherited pipe (--token-fd ${fd})`, { cause: err }));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => {
      stream.destroy();
      reject(new SupervisorError('token_missing', `no sandbox token arrived on descriptor ${fd} within ${timeoutMs / 1000} s; the writer must write the token and close its end`));
    }, timeoutMs);
    stream.on('data', (chunk) => {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      size += buf.length;
      if (size > MAX_TOKEN_BYTES) {
        clearTimeout(timer);
        stream.destroy();
        reject(new SupervisorError('token_missing', `descriptor ${fd} carried more than ${MAX_TOKEN_BYTES} bytes; it must hold only the sandbox token`));
        return;
      }
      chunks.push(buf);
    });
    stream.on('error', (err) => {
      clearTimeout(timer);
      reject(new SupervisorError('token_missing', `cannot read the sandbox token from descriptor ${fd} (${(err as NodeJS.ErrnoException).code ?? err.message}); pass it on an inherited pipe`, { cause: err }));
    });
    stream.on('end', () => {
      clearTimeout(timer);
      const token = Buffer.concat(chunks).toString('utf8').trim();
      if (token === '' || /[\s\0]/.test(token)) {
        reject(new SupervisorError('token_missing', `descriptor ${fd} did not carry a sandbox token (empty or malformed)`));
        return;
      }
      resolve(new Secret(token));
    });
  });
}

/** Removes token-carrying variables (and any variable whose value is the token) from `env`. */
export function scrubTokenFromEnv(env: NodeJS.ProcessEnv, token?: Secret): string[] {
  const removed: string[] = [];
  for (const [key, value] of Object.entries(env)) {
    if (TOKEN_ENV_NAMES.includes(key) || (token !== undefined && value !== undefined && value !== '' && token.equals(value))) {
      delete env[key];
      removed.push(key);
    }
  }
  return removed;
}
