import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Temporary directories standing in for a user's machine (HOME, XDG dirs, Claude Code's config dir). */
export interface Machine {
  readonly root: string;
  readonly home: string;
  readonly xdgConfig: string;
  readonly xdgData: string;
  readonly claudeConfig: string;
  /** Where `openshell gateway start --data-dir` keeps the store. */
  readonly gatewayDataDir: string;
  /** The CLI config dir (`$XDG_CONFIG_HOME/openshell`). */
  readonly cliConfigDir: string;
  /** The environment every CLI child gets: nothing inherited from the test process but PATH. */
  readonly env: Record<string, string>;
  /** A sandbox's persistent workspace (its HOME is `<workspace>/home`). */
  workspace(sandbox: string): string;
  cleanup(): Promise<void>;
}

/** Creates a fresh temporary machine. */
export async function createMachine(prefix = 'openshell-e2e-'): Promise<Machine> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  const home = join(root, 'home');
  const xdgConfig = join(root, 'config');
  const xdgData = join(root, 'data');
  const claudeConfig = join(home, '.claude');
  await Promise.all([home, xdgConfig, xdgData].map((d) => mkdir(d, { recursive: true, mode: 0o700 })));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    USER: 'openshell-e2e',
    LANG: 'C.UTF-8',
    NO_COLOR: '1',
    XDG_CONFIG_HOME: xdgConfig,
    XDG_DATA_HOME: xdgData,
    CLAUDE_CONFIG_DIR: claudeConfig,
  };
  return {
    root,
    home,
    xdgConfig,
    xdgData,
    claudeConfig,
    gatewayDataDir: join(root, 'gateway-data'),
    cliConfigDir: join(xdgConfig, 'openshell'),
    env,
    workspace: (sandbox) => join(xdgData, 'openshell', 'sandboxes', sandbox),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}
