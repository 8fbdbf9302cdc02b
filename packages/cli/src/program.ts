import { Command, Option } from 'commander';
import type { RunContext } from './context.js';

// This module is loaded for every invocation, including `--version` and `--help`: it must import nothing but
// commander. Each action loads its implementation (and the gateway client, keychain, server or supervisor)
// with `await import()` only when it runs.

type Impl = (ctx: RunContext, opts: Record<string, unknown>, args: string[]) => Promise<void>;

function lazy(load: () => Promise<Impl>): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const { createRunContext } = await import('./context.js');
    const ctx = createRunContext(cmd.optsWithGlobals());
    const impl = await load();
    await impl(ctx, cmd.opts(), cmd.args);
  };
}

function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function group(parent: Command, name: string, description: string, help: string): Command {
  const cmd = parent.command(name).description(description).addHelpText('after', help).argument('[command]').usage('<command> [options]');
  // A group run without a subcommand prints its help and succeeds; an unknown subcommand is a usage error.
  cmd.action((sub: string | undefined) => {
    if (sub !== undefined) cmd.error(`error: unknown command '${sub}' for '${cmd.name()}'`, { code: 'commander.unknownCommand' });
    cmd.outputHelp();
  });
  return cmd;
}

/** Builds the `openshell` command tree. */
export function buildProgram(version: string): Command {
  const program = new Command('openshell');
  program
    .description('Keep model credentials in a gateway and inject them only at the sandbox boundary.')
    .version(version, '-V, --version', 'print the openshell version')
    .option('-g, --gateway <name>', 'registered gateway to talk to (default: OPENSHELL_GATEWAY_URL, else the active one)')
    .addOption(new Option('-o, --output <format>', 'result format').choices(['table', 'json']).default('table'))
    .option('--no-color', 'disable colour (NO_COLOR is honoured too)')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: false, showGlobalOptions: true })
    .addHelpText(
      'after',
      examples(
        'openshell gateway start --detach',
        'openshell provider create --name claude-plan --type anthropic-oauth --from-claude-login',
        'openshell inference set --provider claude-plan --model claude-sonnet-4-6',
        'openshell sandbox create --name dev --provider claude-plan',
        'openshell sandbox run dev -- claude -p "hello"',
      ) + '\nExit codes: 0 ok, 1 failure, 2 usage error. Results go to stdout; progress and warnings to stderr.\n',
    );

  addGatewayCommands(program);
  addProviderCommands(program);
  addInferenceCommands(program);
  addSandboxCommands(program);
  return program;
}

function addGatewayCommands(program: Command): void {
  const gw = group(
    program,
    'gateway',
    'start, stop, inspect and register gateways',
    examples('openshell gateway start', 'openshell gateway start --detach --listen 127.0.0.1:8787', 'openshell gateway status', 'openshell gateway add prod --url https://gw.example.com < token.txt'),
  );
  const load = async () => import('./commands/gateway.js');

  gw.command('start')
    .description('run a gateway on this machine (embedded SQLite by default), in the foreground or detached')
    .option('--name <name>', 'name to register the gateway under', 'local')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:8787')
    .option('--data-dir <dir>', 'data directory (default: $XDG_DATA_HOME/openshell/gateway)')
    .option('--database-url <url>', 'Postgres URL instead of SQLite (or set OPENSHELL_DATABASE_URL)')
    .option('--profiles-dir <dir>', 'directory of extra provider profile YAML files')
    .option('--tls-cert <file>', 'TLS certificate (PEM)')
    .option('--tls-key <file>', 'TLS private key (PEM)')
    .option('--kek-file <file>', 'key-encryption key file (default: <data-dir>/kek)')
    .option('--insecure', 'allow a non-loopback listen address without TLS')
    .option('--log-level <level>', 'log level (trace, debug, info, warn, error)')
    .option('-d, --detach', 'run in the background (pid and log files in the data directory)')
    .addHelpText('after', examples('openshell gateway start', 'openshell gateway start --detach', 'openshell gateway start --listen 127.0.0.1:0 --data-dir /tmp/gw --profiles-dir ./profiles'))
    .action(lazy(async () => (await load()).gatewayStart));

  gw.command('stop')
    .description('stop a gateway started with --detach')
    .option('--name <name>', 'gateway name', 'local')
    .option('--data-dir <dir>', 'data directory it was started with')
    .addHelpText('after', examples('openshell gateway stop', 'openshell gateway stop --data-dir /tmp/gw'))
    .action(lazy(async () => (await load()).gatewayStop));

  gw.command('status')
    .description('show the endpoint, version, store and refresh health of the gateway')
    .addHelpText('after', examples('openshell gateway status', 'openshell --gateway prod gateway status --output json'))
    .action(lazy(async () => (await load()).gatewayStatus));

  gw.command('add')
    .description('register a remote gateway (admin token from stdin or OPENSHELL_ADMIN_TOKEN)')
    .argument('<name>', 'name to register it under')
    .requiredOption('--url <url>', 'gateway URL')
    .option('--ca-cert <file>', 'CA certificate to trust for an https gateway')
    .option('--no-activate', 'do not make it the active gateway')
    .addHelpText('after', examples('openshell gateway add prod --url https://gw.example.com < token.txt', 'OPENSHELL_ADMIN_TOKEN=... openshell gateway add prod --url https://gw.example.com'))
    .action(lazy(async () => (await load()).gatewayAdd));

  gw.command('list')
    .description('list registered gateways')
    .addHelpText('after', examples('openshell gateway list', 'openshell gateway list --output json'))
    .action(lazy(async () => (await load()).gatewayList));

  gw.command('use')
    .description('make a registered gateway the active one')
    .argument('<name>', 'gateway name')
    .addHelpText('after', examples('openshell gateway use prod'))
    .action(lazy(async () => (await load()).gatewayUse));
}

function addSourceOptions(cmd: Command, withExisting: boolean): Command {
  cmd
    .option('--credential <KEY[=VALUE]>', 'credential; a bare KEY reads the value from the environment or stdin (repeatable)', collect)
    .option('--config <KEY=VALUE>', 'non-secret configuration, e.g. a base URL (repeatable)', collect);
  if (withExisting) cmd.option('--from-existing', "read credentials from this shell's environment per the profile's discovery");
  return cmd
    .option('--from-claude-login', "harvest this host's Claude Code login (anthropic-oauth); shares its refresh token")
    .option('--oauth-login', "sign in to Claude for the gateway's own login (anthropic-oauth); shares nothing")
    .option('--from-setup-token', 'use a `claude setup-token` token from stdin or CLAUDE_CODE_OAUTH_TOKEN (no refresh)')
    .option('--no-verify', 'skip the verification probe after storing a harvested credential')
    .option('--model <id>', 'model for the verification probe');
}

function addProviderCommands(program: Command): void {
  const provider = group(
    program,
    'provider',
    'manage providers (credentials live only in the gateway)',
    examples(
      'openshell provider create --name openai --type openai --credential OPENAI_API_KEY',
      'openshell provider create --name anthropic --type anthropic --from-existing',
      'openshell provider create --name claude-plan --type claude-plan --from-claude-login',
      'openshell provider list',
      'openshell provider refresh status claude-plan',
    ),
  );
  const load = async () => import('./commands/provider.js');

  addSourceOptions(
    provider
      .command('create')
      .description('create a provider from exactly one credential source')
      .requiredOption('--name <name>', 'provider name')
      .requiredOption('--type <type>', 'provider type or alias (e.g. openai, anthropic, anthropic-oauth, claude-plan)'),
    true,
  )
    .addHelpText(
      'after',
      examples(
        'openshell provider create --name openai --type openai --credential OPENAI_API_KEY',
        'printf %s "$KEY" | openshell provider create --name nv --type nvidia --credential NVIDIA_API_KEY',
        'openshell provider create --name anthropic --type anthropic --from-existing',
        'openshell provider create --name claude-plan --type anthropic-oauth --from-claude-login',
        'openshell provider create --name claude-plan --type anthropic-oauth --oauth-login',
        'claude setup-token | tail -1 | openshell provider create --name claude-ci --type anthropic-oauth --from-setup-token',
      ) +
        '\nSources (exactly one): --credential, --from-existing, --from-claude-login, --oauth-login, --from-setup-token.\n' +
        'KEY=VALUE on the command line works but shows in process lists and shell history: prefer a bare KEY.\n',
    )
    .action(lazy(async () => (await load()).providerCreate));

  provider
    .command('list')
    .description('list providers (key names only, never values)')
    .addHelpText('after', examples('openshell provider list', 'openshell provider list --output json'))
    .action(lazy(async () => (await load()).providerList));

  provider
    .command('get')
    .description('show one provider (key names and fingerprints, never values)')
    .argument('<name>', 'provider name')
    .addHelpText('after', examples('openshell provider get claude-plan', 'openshell provider get claude-plan --output json'))
    .action(lazy(async () => (await load()).providerGet));

  addSourceOptions(provider.command('update').description('change credentials or config, or re-harvest a login').argument('<name>', 'provider name'), true)
    .addHelpText(
      'after',
      examples(
        'openshell provider update openai --credential OPENAI_API_KEY',
        'openshell provider update openai --config OPENAI_BASE_URL=https://proxy.example.com/v1',
        'openshell provider update claude-plan --from-claude-login   # after `claude` login: leaves reauth_required',
        'openshell provider update claude-plan --oauth-login',
      ),
    )
    .action(lazy(async () => (await load()).providerUpdate));

  provider
    .command('delete')
    .description('delete a provider')
    .argument('<name>', 'provider name')
    .option('--force', 'delete even while an inference route or sandbox uses it')
    .addHelpText('after', examples('openshell provider delete openai', 'openshell provider delete openai --force'))
    .action(lazy(async () => (await load()).providerDelete));

  provider
    .command('profiles')
    .description('list the provider profiles the gateway knows (or show one)')
    .argument('[id]', 'profile id')
    .addHelpText('after', examples('openshell provider profiles', 'openshell provider profiles anthropic-oauth --output json'))
    .action(lazy(async () => (await load()).providerProfiles));

  const refresh = group(
    provider,
    'refresh',
    'gateway-managed credential refresh',
    examples('openshell provider refresh status claude-plan', 'openshell provider refresh rotate claude-plan'),
  );
  const loadRefresh = async () => import('./commands/refresh.js');
  refresh
    .command('status')
    .description('show refresh status per credential')
    .argument('<name>', 'provider name')
    .addHelpText('after', examples('openshell provider refresh status claude-plan', 'openshell provider refresh status claude-plan -o json'))
    .action(lazy(async () => (await loadRefresh()).refreshStatus));
  refresh
    .command('configure')
    .description('configure refresh; the refresh token comes from an environment variable or stdin')
    .argument('<name>', 'provider name')
    .option('--credential-key <KEY>', 'credential to refresh (default: the profile credential with a refresh block)')
    .option('--refresh-token-env <VAR>', 'read the refresh token from this environment variable (default: stdin)')
    .option('--client-id <id>', 'OAuth client id (default: the profile one)')
    .option('--client-secret-env <VAR>', 'read an OAuth client secret from this environment variable')
    .option('--expires-at <time>', 'expiry of the current access token (epoch ms, epoch s or RFC 3339)')
    .addHelpText('after', examples('printf %s "$RT" | openshell provider refresh configure claude-plan', 'openshell provider refresh configure my-idp --refresh-token-env RT --client-secret-env CS'))
    .action(lazy(async () => (await loadRefresh()).refreshConfigure));
  refresh
    .command('rotate')
    .description('mint a new access token now (spends the refresh token)')
    .argument('<name>', 'provider name')
    .option('--credential-key <KEY>', 'credential to rotate')
    .addHelpText('after', examples('openshell provider refresh rotate claude-plan'))
    .action(lazy(async () => (await loadRefresh()).refreshRotate));
  refresh
    .command('delete')
    .description('stop refreshing (the current access token stays until it expires)')
    .argument('<name>', 'provider name')
    .addHelpText('after', examples('openshell provider refresh delete claude-plan'))
    .action(lazy(async () => (await loadRefresh()).refreshDelete));
}

function addInferenceCommands(program: Command): void {
  const inference = group(
    program,
    'inference',
    'inference routes (what sandbox clients reach at https://inference.local)',
    examples('openshell inference set --provider claude-plan --model claude-sonnet-4-6', 'openshell inference get', 'openshell inference delete'),
  );
  const load = async () => import('./commands/inference.js');
  inference
    .command('set')
    .description('point a route at a provider (verified with a probe unless --no-verify)')
    .requiredOption('--provider <name>', 'provider name')
    .option('--model <id>', 'model to pin for requests on this route')
    .option('--timeout <seconds>', 'first-byte timeout in seconds')
    .option('--no-verify', 'do not send a verification probe upstream')
    .option('--route <name>', 'route name', 'inference.local')
    .addHelpText('after', examples('openshell inference set --provider claude-plan --model claude-sonnet-4-6', 'openshell inference set --provider openai --model gpt-4.1 --timeout 300 --no-verify'))
    .action(lazy(async () => (await load()).inferenceSet));
  inference
    .command('get')
    .description('show a route (or every route with --all)')
    .option('--route <name>', 'route name', 'inference.local')
    .option('--all', 'show every route')
    .addHelpText('after', examples('openshell inference get', 'openshell inference get --all --output json'))
    .action(lazy(async () => (await load()).inferenceGet));
  inference
    .command('delete')
    .description('delete a route')
    .option('--route <name>', 'route name', 'inference.local')
    .addHelpText('after', examples('openshell inference delete', 'openshell inference delete --route fast'))
    .action(lazy(async () => (await load()).inferenceDelete));
}

function addSandboxCommands(program: Command): void {
  const sandbox = group(
    program,
    'sandbox',
    'sandboxes and their bound providers',
    examples('openshell sandbox create --name dev --provider claude-plan', 'openshell sandbox run dev -- claude -p "hello"', 'openshell sandbox list'),
  );
  const load = async () => import('./commands/sandbox.js');
  sandbox
    .command('create')
    .description('create a sandbox bound to providers')
    .requiredOption('--name <name>', 'sandbox name')
    .option('--provider <name>', 'provider to bind (repeatable)', collect)
    .addHelpText('after', examples('openshell sandbox create --name dev --provider claude-plan', 'openshell sandbox create --name multi --provider claude-plan --provider openai'))
    .action(lazy(async () => (await load()).sandboxCreate));
  sandbox
    .command('list')
    .description('list sandboxes')
    .addHelpText('after', examples('openshell sandbox list', 'openshell sandbox list -o json'))
    .action(lazy(async () => (await load()).sandboxList));
  sandbox
    .command('get')
    .description('show a sandbox')
    .argument('<name>', 'sandbox name')
    .addHelpText('after', examples('openshell sandbox get dev'))
    .action(lazy(async () => (await load()).sandboxGet));
  sandbox
    .command('update')
    .description('bind or unbind providers')
    .argument('<name>', 'sandbox name')
    .option('--add-provider <name>', 'provider to bind (repeatable)', collect)
    .option('--remove-provider <name>', 'provider to unbind (repeatable)', collect)
    .addHelpText('after', examples('openshell sandbox update dev --add-provider openai', 'openshell sandbox update dev --remove-provider openai'))
    .action(lazy(async () => (await load()).sandboxUpdate));
  sandbox
    .command('delete')
    .description('delete a sandbox (its tokens stop working at once)')
    .argument('<name>', 'sandbox name')
    .addHelpText('after', examples('openshell sandbox delete dev'))
    .action(lazy(async () => (await load()).sandboxDelete));
  sandbox
    .command('run')
    .description('run a command inside a sandbox, credentials applied only at its boundary')
    .argument('[name]', 'sandbox name (omit with --provider for a temporary sandbox)')
    .argument('[command...]', 'command to run, after --')
    .option('--provider <name>', 'run in a temporary sandbox bound to this provider (repeatable; deleted on exit)', collect)
    .addOption(new Option('--isolation <mode>', 'isolation of the child').choices(['auto', 'none', 'bwrap']).default('auto'))
    .option('--token-ttl <seconds>', 'lifetime of the sandbox token handed to the supervisor', '43200')
    .option('--bind <dir>', 'also make DIR visible read-write inside the sandbox, e.g. a project checkout (repeatable)', collect)
    .addOption(new Option('--log-level <level>', "the supervisor's log level on stderr (debug shows every model call)").choices(['debug', 'info', 'warn', 'error', 'silent']).default('info'))
    .option('--ro-bind <dir>', 'also make DIR visible read-only inside the sandbox (repeatable); with bwrap, /tmp, /run and your home are hidden otherwise', collect)
    .addHelpText(
      'after',
      examples(
        'openshell sandbox run dev -- claude -p "hello"',
        'openshell sandbox run --provider claude-plan -- claude',
        'openshell sandbox run dev --bind "$PWD" -- claude',
        'openshell sandbox run dev --isolation none -- curl https://inference.local/v1/models',
      ),
    )
    .action(lazy(async () => (await import('./commands/sandbox-run.js')).sandboxRun));
}
