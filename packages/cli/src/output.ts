import pc from 'picocolors';

/** `--output` formats. */
export type OutputFormat = 'table' | 'json';

type Colors = ReturnType<typeof pc.createColors>;

/** A running progress indicator (a spinner on a TTY, a plain stderr line otherwise). */
export interface Progress {
  succeed(text?: string): void;
  fail(text?: string): void;
  stop(): void;
}

/** Where a command writes: results on stdout, progress and warnings on stderr. */
export interface Output {
  readonly format: OutputFormat;
  readonly colors: Colors;
  /** A result line (stdout). */
  line(text?: string): void;
  /** A result as JSON (stdout, pretty, stable key order chosen by the caller). */
  json(value: unknown): void;
  /** `✓ text` on stdout in table mode; nothing in JSON mode. */
  success(text: string): void;
  /** Progress or information (stderr). */
  info(text: string): void;
  /** `⚠ text` (stderr). */
  warn(text: string): void;
  /** Starts a progress indicator on stderr (spinner only on a TTY). */
  progress(text: string): Promise<Progress>;
}

/** Whether colour is on: not `--no-color`, not `NO_COLOR`, and the stream is a TTY (or FORCE_COLOR). */
export function colorEnabled(
  flag: boolean,
  env: Readonly<Record<string, string | undefined>>,
  stream: { isTTY?: boolean },
): boolean {
  if (!flag) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== '') return true;
  return stream.isTTY === true;
}

/** Creates the output for one command run. */
export function createOutput(options: {
  format: OutputFormat;
  color: boolean;
  env: Readonly<Record<string, string | undefined>>;
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
}): Output {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const colors = pc.createColors(colorEnabled(options.color, options.env, stdout));
  const errColors = pc.createColors(colorEnabled(options.color, options.env, stderr));
  const format = options.format;
  return {
    format,
    colors,
    line(text = '') {
      stdout.write(`${text}\n`);
    },
    json(value) {
      stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    },
    success(text) {
      if (format === 'json') return;
      stdout.write(`${colors.bold(colors.green('✓'))} ${text}\n`);
    },
    info(text) {
      stderr.write(`${text}\n`);
    },
    warn(text) {
      stderr.write(`${errColors.yellow('⚠')} ${text}\n`);
    },
    async progress(text) {
      if (stderr.isTTY === true && options.env.CI !== 'true') {
        const { default: yoctoSpinner } = await import('yocto-spinner');
        const spinner = yoctoSpinner({ text, stream: stderr }).start();
        return {
          succeed: (t) => void spinner.success(t ?? text),
          fail: (t) => void spinner.error(t ?? text),
          stop: () => void spinner.stop(),
        };
      }
      stderr.write(`${text}\n`);
      return { succeed() {}, fail() {}, stop() {} };
    },
  };
}
