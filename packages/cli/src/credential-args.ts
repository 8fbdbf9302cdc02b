import { CliError, usageError } from './cli-error.js';

/** One parsed `--credential` item. The value is absent for a bare KEY (read later from env or stdin). */
export interface CredentialArg {
  readonly key: string;
  readonly inlineValue?: string;
}

const KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

function checkKey(key: string, flag: string): string {
  if (key === '') throw usageError(`${flag} key cannot be empty`, `Use ${flag} KEY=VALUE.`);
  if (!KEY_RE.test(key)) {
    throw usageError(`${flag} key '${key}' is not a valid variable name`, 'Use letters, digits and underscores, not starting with a digit.');
  }
  return key;
}

/** Parses repeated `--credential KEY[=VALUE]` items (key trimmed, value verbatim, split at the first `=`). */
export function parseCredentialArgs(items: readonly string[]): CredentialArg[] {
  const seen = new Set<string>();
  return items.map((item) => {
    const eq = item.indexOf('=');
    const key = checkKey((eq === -1 ? item : item.slice(0, eq)).trim(), '--credential');
    if (seen.has(key)) throw usageError(`--credential ${key} is given more than once`);
    seen.add(key);
    return eq === -1 ? { key } : { key, inlineValue: item.slice(eq + 1) };
  });
}

/** Parses repeated `--config KEY=VALUE` items; a later duplicate wins. */
export function parseConfigArgs(items: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq === -1) throw usageError(`--config expects KEY=VALUE, got '${item}'`);
    out[checkKey(item.slice(0, eq).trim(), '--config')] = item.slice(eq + 1);
  }
  return out;
}

/**
 * Resolves credential values: inline values as given; a bare KEY from the environment variable of the same
 * name, else (for exactly one key) from stdin. Returns the values and whether any came from the command line.
 */
export async function resolveCredentialValues(
  args: readonly CredentialArg[],
  env: Readonly<Record<string, string | undefined>>,
  readStdin: (key: string) => Promise<string>,
): Promise<{ values: Record<string, string>; inline: string[] }> {
  const values: Record<string, string> = {};
  const inline: string[] = [];
  const fromStdin: string[] = [];
  for (const a of args) {
    if (a.inlineValue !== undefined) {
      if (a.inlineValue === '') throw usageError(`--credential ${a.key}= has an empty value`);
      values[a.key] = a.inlineValue;
      inline.push(a.key);
      continue;
    }
    const v = env[a.key];
    if (v !== undefined && v.trim() !== '') values[a.key] = v;
    else fromStdin.push(a.key);
  }
  if (fromStdin.length > 1) {
    throw usageError(
      `--credential ${fromStdin.join(', ')}: these keys are not set in the environment, and stdin can supply only one value`,
      'Export them as environment variables of the same name, then run the command again.',
    );
  }
  const [stdinKey] = fromStdin;
  if (stdinKey !== undefined) {
    const v = await readStdin(stdinKey);
    if (v === '') {
      throw new CliError('missing_credential_value', `--credential ${stdinKey}: no value in the environment variable ${stdinKey} nor on stdin`, {
        hint: `Export ${stdinKey}=... or pipe the value on stdin (e.g. \`printenv ${stdinKey} | openshell provider create ...\`).`,
      });
    }
    values[stdinKey] = v;
  }
  return { values, inline };
}
