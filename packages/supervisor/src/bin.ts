import { OpenShellError } from '@openshell/core';
import { SupervisorError } from './errors.js';
import type { IsolationMode } from './isolation.js';
import type { LogLevel } from './logger.js';
import { runSupervisor, type SupervisorOptions } from './supervisor.js';

/** Exit code when the supervisor itself fails before or around the child (as `env`/`docker run` do). */
export const EXIT_SUPERVISOR_FAILED = 125;
/** Exit code for command-line mistakes. */
export const EXIT_USAGE = 2;

/** The text of `openshell-supervisor --help`. */
export const HELP = `openshell-supervisor — run a command inside an OpenShell sandbox boundary

Usage:
  openshell-supervisor --gateway URL --sandbox NAME [options] -- COMMAND [ARGS...]

Usually started for you by \`openshell sandbox run NAME -- COMMAND\`, which obtains a short-lived
sandbox token from the gateway and hands it over on a pipe.

What it does:
  1. reads the sandbox token from --token-fd (never from argv or the environment);
  2. fetches the sandbox's environment and route bundle from the gateway, retrying while the
     gateway is unreachable, then long-polls so rotated credentials apply to the next request;
  3. starts a proxy: https://inference.local and http://inference.local go to the model
     provider with the real credential added at this boundary; CONNECT to the hosts the bundle
     allows is tunnelled untouched; everything else gets 403 (logged with the destination);
  4. runs COMMAND with a scrubbed environment: PATH, LANG, LC_*, TERM, TZ and a few more from the
     host; HOME and TMPDIR in the sandbox workspace; HTTP(S)_PROXY; the sandbox CA in
     NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE; each route's client
     settings (e.g. ANTHROPIC_BASE_URL=https://inference.local). No credential enters it;
  5. on Linux with bubblewrap, isolates COMMAND in new pid, mount and network namespaces: the host
     home and the gateway's data and config are hidden, and the proxy is the only way out.
  The exit code is COMMAND's; signals are forwarded to it.

Options:
  --gateway URL          gateway base URL (e.g. http://127.0.0.1:8787)
  --sandbox NAME         sandbox name; also names the workspace
  --token-fd N           read the sandbox token from inherited descriptor N (default 3)
  --isolation MODE       auto (default: bwrap when it works here), bwrap (required), none
  --workspace DIR        sandbox workspace (default $XDG_DATA_HOME/openshell/sandboxes/NAME;
                         HOME is DIR/home and persists between runs)
  --bind DIR             also make DIR visible (read-write) inside the sandbox; repeatable
  --ro-bind DIR          also make DIR visible read-only inside the sandbox (tools, a checkout);
                         repeatable. With bwrap, /tmp, /run, the host home and OpenShell's own
                         directories are hidden unless bound back this way
  --cwd DIR              working directory of COMMAND (default: the current one)
  --gateway-ca FILE      PEM CA to trust for an https gateway with a private certificate
  --log-level LEVEL      debug, info (default), warn, error, silent
  -h, --help             show this help

Exit codes: COMMAND's own; ${EXIT_SUPERVISOR_FAILED} when the supervisor could not run it (the message says why);
${EXIT_USAGE} for a usage error.

Example (what \`openshell sandbox run dev -- claude -p hello\` does):
  openshell-supervisor --gateway http://127.0.0.1:8787 --sandbox dev --token-fd 3 -- claude -p hello 3<token-pipe
`;

/** Parses the command line into supervisor options (throws `usage` errors). */
export function parseArgs(argv: readonly string[]): (Omit<SupervisorOptions, 'token'> & { help?: false }) | { help: true } {
  let gatewayUrl: string | undefined;
  let sandbox: string | undefined;
  let tokenFd = 3;
  let isolation: IsolationMode = 'auto';
  let workspace: string | undefined;
  let cwd: string | undefined;
  let gatewayCaFile: string | undefined;
  let logLevel: LogLevel = 'info';
  const bind: string[] = [];
  const readOnly: string[] = [];
  let i = 0;
  const value = (flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new SupervisorError('usage', `${flag} needs a value; see --help`);
    i += 2;
    return v;
  };
  while (i < argv.length) {
    const arg = argv[i] as string;
    if (arg === '--') {
      i++;
      break;
    }
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq !== -1) {
      // --flag=value form
      const rest = [...argv.slice(0, i), arg.slice(0, eq), arg.slice(eq + 1), ...argv.slice(i + 1)];
      return parseArgs(rest);
    }
    switch (arg) {
      case '-h':
      case '--help':
        return { help: true };
      case '--gateway':
        gatewayUrl = value(arg);
        break;
      case '--sandbox':
        sandbox = value(arg);
        break;
      case '--token-fd': {
        const v = value(arg);
        if (!/^[0-9]+$/.test(v) || Number(v) < 3) throw new SupervisorError('usage', `--token-fd must be a descriptor number of 3 or more (got '${v}')`);
        tokenFd = Number(v);
        break;
      }
      case '--isolation': {
        const v = value(arg);
        if (v !== 'auto' && v !== 'none' && v !== 'bwrap') throw new SupervisorError('usage', `--isolation must be auto, bwrap or none (got '${v}')`);
        isolation = v;
        break;
      }
      case '--workspace':
        workspace = value(arg);
        break;
      case '--bind':
        bind.push(value(arg));
        break;
      case '--ro-bind':
        readOnly.push(value(arg));
        break;
      case '--cwd':
        cwd = value(arg);
        break;
      case '--gateway-ca':
        gatewayCaFile = value(arg);
        break;
      case '--log-level': {
        const v = value(arg);
        if (!['debug', 'info', 'warn', 'error', 'silent'].includes(v)) throw new SupervisorError('usage', `--log-level must be debug, info, warn, error or silent (got '${v}')`);
        logLevel = v as LogLevel;
        break;
      }
      default:
        throw new SupervisorError('usage', `unknown option '${arg.slice(0, 40)}'; put the command after --, e.g. -- claude -p hello (see --help)`);
    }
  }
  const command = argv.slice(i);
  if (gatewayUrl === undefined) throw new SupervisorError('usage', '--gateway URL is required (the gateway the sandbox belongs to); see --help');
  if (!/^https?:\/\//.test(gatewayUrl)) throw new SupervisorError('usage', `--gateway must be an http:// or https:// URL (got '${gatewayUrl.slice(0, 80)}')`);
  if (sandbox === undefined) throw new SupervisorError('usage', '--sandbox NAME is required; see --help');
  if (command.length === 0) throw new SupervisorError('usage', 'no command given: put it after --, e.g. -- claude -p hello');
  return {
    gatewayUrl,
    sandbox,
    tokenFd,
    isolation,
    command,
    logLevel,
    ...(workspace !== undefined ? { workspace } : {}),
    ...(cwd !== undefined ? { cwd } : {}),
    ...(gatewayCaFile !== undefined ? { gatewayCaFile } : {}),
    ...(bind.length > 0 ? { bind } : {}),
    ...(readOnly.length > 0 ? { readOnly } : {}),
  };
}

/** The bin's main: parse, run, exit with the child's code. */
export async function main(argv: readonly string[]): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`openshell-supervisor: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT_USAGE;
  }
  if (parsed.help === true) {
    process.stdout.write(HELP);
    return 0;
  }
  try {
    const result = await runSupervisor(parsed);
    return result.exitCode;
  } catch (err) {
    const code = OpenShellError.isInstance(err) ? ` (${err.code})` : '';
    process.stderr.write(`openshell-supervisor: error${code}: ${err instanceof Error ? err.message : String(err)}\n`);
    return SupervisorError.isInstance(err) && err.code === 'usage' ? EXIT_USAGE : EXIT_SUPERVISOR_FAILED;
  }
}
