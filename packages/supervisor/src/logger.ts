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

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Where lines go (default stderr). */
  readonly stream?: { write(chunk: string): unknown };
  readonly level?: LogLevel;
  /**
   * Coalesce debug/info lines into one write per event-loop turn (warn/error flush at once, in order;
   * pending lines are flushed at process exit). Default: on for stderr, off for a given stream.
   */
  readonly coalesce?: boolean;
}

/** Creates a logger writing `openshell-supervisor: <level>: <message> key=value ...` lines. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const stream = options.stream ?? process.stderr;
  const threshold = ORDER[options.level ?? 'info'];
  const coalesce = options.coalesce ?? options.stream === undefined;
  // A request's access line is a write(2) of its own otherwise: on the proxy's hot path that is
  // about 5 % of its CPU, so lines of one event-loop turn leave together.
  let pending = '';
  let scheduled = false;
  const flush = () => {
    if (scheduled) {
      scheduled = false;
      process.off('exit', flush);
    }
    if (pending === '') return;
    const text = pending;
    pending = '';
    stream.write(text);
  };
  const write = (level: Exclude<LogLevel, 'silent'>, message: string, fields?: LogFields) => {
    if (ORDER[level] < threshold) return;
    const parts = Object.entries(fields ?? {})
      .filter((e): e is [string, string | number | boolean] => e[1] !== undefined)
      .map(([k, v]) => `${k}=${formatValue(v)}`);
    const line = `openshell-supervisor: ${level}: ${message}${parts.length > 0 ? ` ${parts.join(' ')}` : ''}\n`;
    if (!coalesce) {
      stream.write(line);
      return;
    }
    pending += line;
    if (level === 'warn' || level === 'error') {
      flush();
    } else if (!scheduled) {
      scheduled = true;
      process.once('exit', flush);
      setImmediate(flush);
    }
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}
