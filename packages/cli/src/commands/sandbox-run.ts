import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { constants as osConstants } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { CliError, usageError } from '../cli-error.js';
import type { RunContext } from '../context.js';
import { seg } from '../gateway-client.js';

interface RunOptions {
  provider?: string[];
  isolation: 'auto' | 'none' | 'bwrap';
  tokenTtl: string;
  bind?: string[];
  roBind?: string[];
  logLevel: string;
}

const SUPERVISOR_HINT = 'Check that @openshell/supervisor is installed with the CLI (npm ls @openshell/supervisor).';

function supervisorBinPath(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@openshell/supervisor/package.json')), 'bin', 'openshell-supervisor.js');
}

/** The supervisor's environment: ours minus every variable that holds an OpenShell or Claude secret. */
export function supervisorEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  for (const key of ['OPENSHELL_ADMIN_TOKEN', 'OPENSHELL_SANDBOX_TOKEN', 'CLAUDE_CODE_OAUTH_TOKEN', 'OPENSHELL_DATABASE_URL', 'OPENSHELL_KEK']) delete out[key];
  return out;
}

/** Splits `sandbox run [NAME] [-- CMD...]` operands. */
export function splitRunArgs(args: readonly string[], temporary: boolean): { name?: string; command: string[] } {
  if (temporary) return { command: [...args] };
  const [name, ...command] = args;
  return name === undefined ? { command } : { name, command };
}

/**
 * `sandbox run NAME -- CMD` / `sandbox run --provider P -- CMD`: issues a short-lived sandbox token, starts
 * the supervisor with the token on an inherited pipe (fd 3; never env or argv), and exits with the child's code.
 * A temporary sandbox is deleted when the command ends.
 */
export async function sandboxRun(ctx: RunContext, opts: Record<string, unknown>, args: string[]): Promise<void> {
  const o = opts as unknown as RunOptions;
  const temporary = (o.provider?.length ?? 0) > 0;
  const { name: given, command } = splitRunArgs(args, temporary);
  if (!temporary && given === undefined) throw usageError('sandbox run needs a sandbox NAME or --provider', 'e.g. `openshell sandbox run dev -- claude` or `openshell sandbox run --provider claude-plan -- claude`.');
  if (command.length === 0) throw usageError('sandbox run needs a command after --', 'e.g. `openshell sandbox run dev -- claude -p "hello"`.');
  const ttlSeconds = Number(o.tokenTtl);
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 60 || ttlSeconds > 30 * 24 * 3600) throw usageError(`--token-ttl '${o.tokenTtl}' must be whole seconds between 60 and 2592000`);

  const client = await ctx.client();
  const name = given ?? `run-${randomBytes(4).toString('hex')}`;
  if (temporary) {
    await client.request('POST', '/v1/sandboxes', { name, providers: o.provider });
    ctx.out.info(`Created temporary sandbox ${name} (deleted when the command ends).`);
  }
  try {
    const { token } = await client.request<{ token: string; expiresAt?: number }>('POST', `/v1/sandboxes/${seg(name)}/tokens`, { ttlSeconds });
    const code = await runSupervisor(client.target.url, client.target.caCertFile, name, token, o, command);
    process.exitCode = code;
  } finally {
    if (temporary) {
      try {
        await client.request('DELETE', `/v1/sandboxes/${seg(name)}`);
      } catch (err) {
        ctx.out.warn(`Could not delete the temporary sandbox ${name}: ${err instanceof Error ? err.message : String(err)}. Run \`openshell sandbox delete ${name}\`.`);
      }
    }
  }
}

function runSupervisor(gatewayUrl: string, caCertFile: string | undefined, sandbox: string, token: string, o: RunOptions, command: string[]): Promise<number> {
  const argv = [supervisorBinPath(), '--gateway', gatewayUrl, '--sandbox', sandbox, '--token-fd', '3'];
  argv.push('--isolation', o.isolation, '--log-level', o.logLevel);
  for (const dir of o.bind ?? []) argv.push('--bind', resolve(dir));
  for (const dir of o.roBind ?? []) argv.push('--ro-bind', resolve(dir));
  if (caCertFile) argv.push('--gateway-ca', caCertFile);
  argv.push('--', ...command);
  const child = spawn(process.execPath, argv, {
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
    env: supervisorEnv(process.env),
  });
  const pipe = child.stdio[3] as Writable | null;
  if (!pipe) throw new CliError('supervisor_spawn_failed', 'could not open the token pipe to the supervisor', { hint: SUPERVISOR_HINT });
  pipe.on('error', () => {
    // the supervisor closed its end early; its own exit status tells what happened
  });
  pipe.end(`${token}\n`);
  // Ctrl-C reaches the supervisor directly (same process group): the CLI only stays alive until it exits.
  // A SIGTERM sent to the CLI alone is passed on.
  const onInt = (): void => {};
  const onTerm = (): void => {
    child.kill('SIGTERM');
  };
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return new Promise((resolve, reject) => {
    child.on('error', (err) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      reject(new CliError('supervisor_spawn_failed', `could not start the supervisor: ${err.message}`, { hint: SUPERVISOR_HINT }));
    });
    child.on('exit', (code, signal) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      if (signal) {
        const n = (osConstants.signals as Record<string, number>)[signal] ?? 0;
        resolve(128 + n);
      } else resolve(code ?? 1);
    });
  });
}
