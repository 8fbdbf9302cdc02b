import { Writable } from 'node:stream';
import { type DestinationStream, type LevelWithSilent, type Logger, pino } from 'pino';
import type { SecretRegistry } from './secret-registry.js';

/**
 * pino `redact` paths for every secret-bearing field the gateway might log. The value scrubber
 * (see {@link scrubbingDestination}) is the second line of defence for secrets in free text.
 */
export const REDACT_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers["x-api-key"]',
  'authorization',
  'credentials.*',
  '*.credentials.*',
  'material.*',
  '*.material.*',
  'token',
  '*.token',
  'adminToken',
  'refresh_token',
  '*.refresh_token',
  'refreshToken',
  '*.refreshToken',
  'access_token',
  '*.access_token',
  'accessToken',
  '*.accessToken',
  'client_secret',
  '*.client_secret',
  'secret',
  '*.secret',
  'auth.value',
  '*.auth.value',
  'kek',
];

/** A pino destination that scrubs every registered secret from each line before writing it. */
export function scrubbingDestination(registry: SecretRegistry, target: NodeJS.WritableStream): DestinationStream {
  return {
    write(line: string): void {
      target.write(registry.scrub(line));
    },
  };
}

/** The gateway's logger: JSON lines, redacted paths, scrubbed values. */
export function createLogger(options: {
  registry: SecretRegistry;
  level?: LevelWithSilent | undefined;
  stream?: NodeJS.WritableStream | undefined;
}): Logger {
  const target = options.stream ?? process.stderr;
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'openshell-gateway' },
      redact: { paths: [...REDACT_PATHS], censor: '[REDACTED]' },
      serializers: {
        err: pino.stdSerializers.err,
      },
    },
    scrubbingDestination(options.registry, target),
  );
}

/** A writable stream that collects every line (for tests and in-process capture). */
export function captureStream(): Writable & { lines: () => string[]; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      chunks.push(typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
      cb();
    },
  });
  return Object.assign(stream, {
    text: () => chunks.join(''),
    lines: () => chunks.join('').split('\n').filter((l) => l !== ''),
  });
}
