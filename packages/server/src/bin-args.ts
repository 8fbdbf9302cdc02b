import { parseArgs } from 'node:util';
import type { LevelWithSilent } from 'pino';

/** Usage text of `openshell-gateway --help`. */
export const GATEWAY_HELP = `openshell-gateway — the OpenShell-TS gateway: keeps provider credentials, serves route bundles to sandbox supervisors.

Usage: openshell-gateway [options]

With no options it listens on 127.0.0.1:8787 with an embedded SQLite store under
\${XDG_DATA_HOME:-~/.local/share}/openshell/gateway, creates an admin token at first start and writes it
(mode 0600) to \${XDG_CONFIG_HOME:-~/.config}/openshell/gateways/<name>.token for the openshell CLI.

Options:
  --listen HOST:PORT     Address to listen on (default 127.0.0.1:8787; [::1]:8787 for IPv6; port 0 = any free port).
                         A non-loopback address needs --tls-cert/--tls-key or --insecure: tokens and
                         route bundles carry credentials.
  --data-dir DIR         Where the SQLite database (gateway.db) and the key file (kek) live.
  --database-url URL     Use PostgreSQL (several replicas share one database) instead of SQLite.
                         Prefer the OPENSHELL_DATABASE_URL environment variable when the URL holds a
                         password: command lines are visible to other users in process lists.
  --profiles-dir DIR     Extra provider profiles (*.yaml). They may shadow built-ins (logged at start);
                         an invalid file stops the start with every problem listed.
  --tls-cert FILE        PEM certificate chain: serve HTTPS (with --tls-key).
  --tls-key FILE         PEM private key of --tls-cert.
  --insecure             Allow a non-loopback --listen without TLS (only behind a TLS-terminating proxy).
  --kek-file FILE        Key-encryption key (base64 of 32 bytes). Replicas sharing a database must share
                         it (or OPENSHELL_KEK); default: the data dir's kek file, created at first start.
  --name NAME            Gateway name in the CLI config (default local): gateways/NAME.token and .json.
  --config-dir DIR       CLI config dir (default \${XDG_CONFIG_HOME:-~/.config}/openshell).
  --log-level LEVEL      fatal, error, warn, info (default), debug, trace or silent. Logs go to stderr
                         as JSON lines; secrets are redacted and scrubbed.
  -h, --help             Show this help.

Environment:
  OPENSHELL_KEK            Key-encryption key (base64 of 32 bytes); wins over --kek-file.
  OPENSHELL_DATABASE_URL   Like --database-url, kept out of the process list.

When ready it prints one line on stdout: "openshell-gateway listening on <url>". SIGINT/SIGTERM stop it
gracefully (requests in flight finish, the store is closed). The admin token can be rotated with
POST /v1/admin/token/rotate (the new token is returned once and written to the token file).

Examples:
  openshell-gateway
  openshell-gateway --listen 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem
  OPENSHELL_DATABASE_URL=postgres://gw@db/openshell OPENSHELL_KEK=$(cat kek.b64) openshell-gateway --listen 127.0.0.1:8788
`;

/** Parsed command line of `openshell-gateway`. */
export interface GatewayArgs {
  readonly help: boolean;
  readonly listen: { host: string; port: number };
  readonly dataDir?: string;
  readonly databaseUrl?: string;
  readonly profilesDir?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly insecure: boolean;
  readonly kekFile?: string;
  readonly name?: string;
  readonly configDir?: string;
  readonly logLevel: LevelWithSilent;
  /** Warnings to print (e.g. a password in --database-url). */
  readonly warnings: readonly string[];
}

/** A usage error: the bin prints it with a pointer to --help and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Parses `HOST:PORT`, `[V6]:PORT` or `:PORT` (host 127.0.0.1). */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value.trim());
  if (m === null) throw new UsageError(`--listen '${value}' is not HOST:PORT (e.g. 127.0.0.1:8787 or [::1]:8787)`);
  const host = m[1] ?? (m[2] === '' || m[2] === undefined ? '127.0.0.1' : m[2]);
  const port = Number(m[3]);
  if (port > 65535) throw new UsageError(`--listen port ${port} is out of range (0-65535)`);
  return { host, port };
}

/** Parses the command line (without `node` and the script). */
export function parseGatewayArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = process.env): GatewayArgs {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; strict: true; allowPositionals: false }>>;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  const warnings: string[] = [];
  const level = (v['log-level'] ?? 'info') as LevelWithSilent;
  if (!LEVELS.includes(level)) throw new UsageError(`--log-level '${v['log-level']}' is not one of ${LEVELS.join(', ')}`);
  if ((v['tls-cert'] === undefined) !== (v['tls-key'] === undefined)) {
    throw new UsageError('--tls-cert and --tls-key go together: give both (PEM certificate chain and its key) or neither');
  }
  let databaseUrl = v['database-url'];
  if (databaseUrl !== undefined) {
    try {
      if (new URL(databaseUrl).password !== '') {
        warnings.push('--database-url contains a password, which other users can see in the process list; use OPENSHELL_DATABASE_URL instead');
      }
    } catch {
      throw new UsageError('--database-url is not a URL (expected postgres://user@host:5432/db)');
    }
  } else if (env.OPENSHELL_DATABASE_URL !== undefined && env.OPENSHELL_DATABASE_URL !== '') {
    databaseUrl = env.OPENSHELL_DATABASE_URL;
  }
  const out: GatewayArgs = {
    help: v.help === true,
    listen: parseListen(v.listen ?? '127.0.0.1:8787'),
    insecure: v.insecure === true,
    logLevel: level,
    warnings,
    ...(v['data-dir'] === undefined ? {} : { dataDir: v['data-dir'] }),
    ...(databaseUrl === undefined ? {} : { databaseUrl }),
    ...(v['profiles-dir'] === undefined ? {} : { profilesDir: v['profiles-dir'] }),
    ...(v['tls-cert'] === undefined ? {} : { tlsCert: v['tls-cert'] }),
    ...(v['tls-key'] === undefined ? {} : { tlsKey: v['tls-key'] }),
    ...(v['kek-file'] === undefined ? {} : { kekFile: v['kek-file'] }),
    ...(v.name === undefined ? {} : { name: v.name }),
    ...(v['config-dir'] === undefined ? {} : { configDir: v['config-dir'] }),
  };
  if (out.name !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(out.name)) {
    throw new UsageError(`--name '${out.name}' must be letters, digits, '.', '_' or '-' (it names files in the config dir)`);
  }
  return out;
}

const OPTIONS = {
  listen: { type: 'string' },
  'data-dir': { type: 'string' },
  'database-url': { type: 'string' },
  'profiles-dir': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  insecure: { type: 'boolean' },
  'kek-file': { type: 'string' },
  name: { type: 'string' },
  'config-dir': { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;
