import { CliError } from './cli-error.js';
import { createGatewayClient, type GatewayClient } from './gateway-client.js';
import { createOutput, type Output, type OutputFormat } from './output.js';
import type { InputStream } from './read-input.js';
import { resolveGateway } from './resolve-gateway.js';

/** Global options (`openshell [--gateway NAME] [--output table|json] [--no-color]`). */
export interface GlobalOptions {
  readonly gateway?: string;
  readonly output: OutputFormat;
  readonly color: boolean;
}

/** What every command action receives. */
export interface RunContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly out: Output;
  readonly globals: GlobalOptions;
  readonly stdin: InputStream;
  /** The gateway client, resolved on first use. */
  client(): Promise<GatewayClient>;
}

/** Builds the run context from the global options commander parsed. */
export function createRunContext(raw: Record<string, unknown>): RunContext {
  const output = raw.output === 'json' ? 'json' : 'table';
  const globals: GlobalOptions = {
    output,
    color: raw.color !== false,
    ...(typeof raw.gateway === 'string' ? { gateway: raw.gateway } : {}),
  };
  const env = process.env;
  let client: Promise<GatewayClient> | undefined;
  return {
    env,
    globals,
    out: createOutput({ format: output, color: globals.color, env }),
    stdin: process.stdin as InputStream,
    client() {
      client ??= resolveGateway(env, globals.gateway).then(createGatewayClient);
      return client;
    },
  };
}

/** Prints a CLI error the house way: `Error: <problem>` then the next step, on stderr. */
export function formatError(err: unknown, color: boolean): { text: string; exitCode: number } {
  if (CliError.isInstance(err)) {
    const hint = err.hint ? `\n${err.hint}` : '';
    return { text: `${color ? '\u001b[31mError:\u001b[39m' : 'Error:'} ${err.message}${hint}\n`, exitCode: err.exitCode };
  }
  const message = err instanceof Error ? err.message : String(err);
  return {
    text: `Error: unexpected failure: ${message}\nThis is a bug in openshell; please report it with the command you ran.\n`,
    exitCode: 1,
  };
}
