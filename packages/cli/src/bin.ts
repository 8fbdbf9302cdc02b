import { readFileSync } from 'node:fs';

// Startup path: only commander and this file load before a command runs. Everything else is imported
// inside command actions (see program.ts).

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

async function main(argv: string[]): Promise<number> {
  const args = argv.slice(2);
  // Fast path: `openshell --version` needs nothing else.
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const { CommanderError } = await import('commander');
  const { buildProgram } = await import('./program.js');
  const program = buildProgram(version());
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return 2; // commander already printed the usage error
    }
    const { formatError } = await import('./context.js');
    const { colorEnabled } = await import('./output.js');
    const color = colorEnabled(!args.includes('--no-color'), process.env, process.stderr);
    const { text, exitCode } = formatError(err, color);
    process.stderr.write(text);
    return exitCode;
  }
}

// Exit explicitly: an idle keep-alive socket or a paused stdin must not hold a finished command open.
// (stdout and stderr writes to pipes and files are synchronous on Linux and macOS.)
main(process.argv).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
