import { homedir } from 'node:os';
import { join } from 'node:path';

/** Environment variables the CLI reads paths from (a subset of process.env). */
export type PathEnv = Readonly<Record<string, string | undefined>>;

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

/** The user's home directory: `$HOME`, else the OS account's. */
export function homeDir(env: PathEnv): string {
  return nonEmpty(env.HOME) ?? homedir();
}

/** `${XDG_CONFIG_HOME:-~/.config}/openshell`. */
export function cliConfigDir(env: PathEnv): string {
  return join(nonEmpty(env.XDG_CONFIG_HOME) ?? join(homeDir(env), '.config'), 'openshell');
}

/** `${XDG_DATA_HOME:-~/.local/share}/openshell`. */
export function dataRootDir(env: PathEnv): string {
  return join(nonEmpty(env.XDG_DATA_HOME) ?? join(homeDir(env), '.local', 'share'), 'openshell');
}

/** Default gateway data dir: `${XDG_DATA_HOME:-~/.local/share}/openshell/gateway`. */
export function defaultGatewayDataDir(env: PathEnv): string {
  return join(dataRootDir(env), 'gateway');
}
