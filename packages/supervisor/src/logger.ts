/** Structured fields of a log line; never put a secret here. */
export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

/** The supervisor's logger: one human-readable line per event on stderr (or a test's stream). */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** Log levels, least to most severe. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

function formatValue(value: string | number | boolean): string {
  const text = String(value);
  return /^[A-Za-z0-9._:/@+-]*$/.test(text) && text !== '' ? text : JSON.stringify(text);
}

/** Creates a logger writing `openshell-supervisor: <level>: <message> key=value ...` lines. */
export function createLogger(options: { stream?: { write(chunk: string): unknown }; level?: LogLevel } = {}): Logger {
  const stream = options.stream ?? process.stderr;
  const threshold = ORDER[options.level ?? 'info'];
  const write = (level: Exclude<LogLevel, 'silent'>, message: string, fields?: LogFields) => {
    if (ORDER[level] < threshold) return;
    const parts = Object.entries(fields ?? {})
      .filter((e): e is [string, string | number | boolean] => e[1] !== undefined)
      .map(([k, v]) => `${k}=${formatValue(v)}`);
    stream.write(`openshell-supervisor: ${level}: ${message}${parts.length > 0 ? ` ${parts.join(' ')}` : ''}\n`);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}
