import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, link, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The Claude Code release the boundary was tested with (TOOLCHAIN.md). */
export const CLAUDE_CODE_VERSION = process.env.OPENSHELL_CLAUDE_CODE_VERSION ?? '2.1.328';

/** Where the suite installs Claude Code on first use (kept between runs). */
export function claudeCodeCacheDir(): string {
  if (process.env.OPENSHELL_E2E_CACHE_DIR) return join(process.env.OPENSHELL_E2E_CACHE_DIR, 'claude-code');
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cache, 'openshell-e2e', 'claude-code');
}

function nativePackage(): string | undefined {
  if (process.platform !== 'linux' && process.platform !== 'darwin') return undefined;
  if (process.arch !== 'x64' && process.arch !== 'arm64') return undefined;
  return `@anthropic-ai/claude-code-${process.platform}-${process.arch}`;
}

/** The native `claude` binary, or why it is not available. */
export type ClaudeCode = { readonly bin: string; readonly version: string } | { readonly unavailable: string };

let cached: Promise<ClaudeCode> | undefined;

/**
 * Finds (OPENSHELL_CLAUDE_CODE_BIN) or installs the real Claude Code CLI into the cache dir with
 * `npm install --prefix`, once per run, and checks that it starts.
 */
export function ensureClaudeCode(): Promise<ClaudeCode> {
  cached ??= locate();
  return cached;
}

async function locate(): Promise<ClaudeCode> {
  let bin = process.env.OPENSHELL_CLAUDE_CODE_BIN;
  if (!bin) {
    const pkg = nativePackage();
    if (pkg === undefined) return { unavailable: `Claude Code has no native package for ${process.platform}-${process.arch}` };
    const prefix = claudeCodeCacheDir();
    bin = join(prefix, 'node_modules', ...pkg.split('/'), 'claude');
    if (!existsSync(bin)) {
      process.stderr.write(`[e2e] installing @anthropic-ai/claude-code@${CLAUDE_CODE_VERSION} into ${prefix} (first use; cached afterwards)\n`);
      await mkdir(prefix, { recursive: true });
      try {
        const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
        await run(npm, ['install', '--prefix', prefix, '--no-audit', '--no-fund', '--ignore-scripts', `@anthropic-ai/claude-code@${CLAUDE_CODE_VERSION}`], {
          timeout: 600_000,
          maxBuffer: 16 * 1024 * 1024,
        });
      } catch (err) {
        return { unavailable: `npm install @anthropic-ai/claude-code@${CLAUDE_CODE_VERSION} failed: ${(err as Error).message.split('\n')[0]}` };
      }
      if (!existsSync(bin)) return { unavailable: `npm installed Claude Code but ${bin} is missing (optional dependency skipped?)` };
    }
  }
  const home = await mkdtemp(join(tmpdir(), 'openshell-e2e-cc-'));
  try {
    const { stdout } = await run(bin, ['--version'], { timeout: 60_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home } });
    return { bin, version: stdout.trim() };
  } catch (err) {
    return { unavailable: `${bin} --version failed: ${(err as Error).message.split('\n')[0]}` };
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

/**
 * Installs `claude` into a sandbox's persistent HOME (`<home>/.local/bin/claude`, a hard link when
 * possible), as a user would, and marks onboarding done so `claude -p` runs headless. Returns the
 * path, which is the same inside and outside the bubblewrap namespace (the workspace is bound in).
 */
export async function installClaudeIntoSandboxHome(bin: string, sandboxHome: string): Promise<string> {
  const target = join(sandboxHome, '.local', 'bin', 'claude');
  await mkdir(dirname(target), { recursive: true });
  if (!existsSync(target)) {
    try {
      await link(bin, target);
    } catch {
      await copyFile(bin, target);
      await chmod(target, 0o755);
    }
  }
  await writeFile(join(sandboxHome, '.claude.json'), JSON.stringify({ hasCompletedOnboarding: true }));
  return target;
}
