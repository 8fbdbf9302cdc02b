// Every command the docs show must be real: each `openshell …` line in a shell block of docs/**/*.mdx,
// architecture/*.md, README.md and packages/*/README.md is parsed by the CLI's own command tree
// (commander, with the actions replaced by a recorder), and `openshell-gateway` / `openshell-supervisor`
// lines by those bins' own argument parsers. Unknown commands or flags, bad choices and missing
// required options fail here. Every page must also compile as MDX. (The flows themselves run in
// subscription-flow.test.ts and the demo.)
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { compile } from '@mdx-js/mdx';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../packages/cli/src/program.js';
import { parseGatewayArgs } from '../../packages/server/src/bin-args.js';
import { parseArgs as parseSupervisorArgs } from '../../packages/supervisor/src/bin.js';
import { REPO_ROOT } from './harness/paths.js';

const SHELL_LANGS = new Set(['', 'sh', 'bash', 'shell', 'console']);

async function docFiles(): Promise<string[]> {
  const out: string[] = [join(REPO_ROOT, 'README.md')];
  for (const entry of await readdir(join(REPO_ROOT, 'docs'), { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.mdx')) out.push(join(entry.parentPath, entry.name));
  }
  for (const name of await readdir(join(REPO_ROOT, 'architecture'))) if (name.endsWith('.md')) out.push(join(REPO_ROOT, 'architecture', name));
  for (const pkg of await readdir(join(REPO_ROOT, 'packages'))) out.push(join(REPO_ROOT, 'packages', pkg, 'README.md'));
  const existing: string[] = [];
  for (const f of out) if (await readFile(f).then(() => true, () => false)) existing.push(f);
  return existing;
}

/** Lines of fenced shell (or untyped) code blocks, with backslash continuations joined. */
export function shellLines(markdown: string): string[] {
  const lines: string[] = [];
  let inBlock = false;
  let shell = false;
  let pending = '';
  for (const raw of markdown.split('\n')) {
    const fence = /^\s*```+\s*([a-z]*)/.exec(raw);
    if (fence) {
      inBlock = !inBlock;
      shell = inBlock && SHELL_LANGS.has(fence[1] ?? '');
      continue;
    }
    if (!inBlock || !shell) continue;
    const line = raw.replace(/^\s*\$ /, '');
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    lines.push(pending + line);
    pending = '';
  }
  return lines;
}

/** Shell-ish words of one command line (quotes and `$(…)` honoured; comments, pipes, redirections, `;`/`&&` split). */
export function commandsOf(line: string): string[][] {
  // 1. tokens: words (quoted parts and $(...) kept together) and operators
  const tokens: { op?: string; word?: string }[] = [];
  let word = '';
  let inWord = false;
  const flush = () => {
    if (inWord) tokens.push({ word });
    word = '';
    inWord = false;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (c === '"' || c === "'") {
      const close = line.indexOf(c, i + 1);
      const end = close < 0 ? line.length : close;
      word += line.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '$' && line[i + 1] === '(') {
      let depth = 0;
      let j = i + 1;
      for (; j < line.length; j++) {
        if (line[j] === '(') depth++;
        else if (line[j] === ')' && --depth === 0) break;
      }
      word += line.slice(i, j + 1);
      inWord = true;
      i = j;
    } else if (c === '#' && !inWord) break;
    else if (c === ' ' || c === '\t') flush();
    else if (c === '|' || c === ';' || (c === '&' && line[i + 1] === '&')) {
      flush();
      if (line[i + 1] === '|' || line[i + 1] === '&') i++;
      tokens.push({ op: c });
    } else {
      word += c;
      inWord = true;
    }
  }
  flush();
  // 2. commands, without redirections (`2>&1`, `> file`, `< file`, `3<pipe`) and leading VAR=value
  const commands: string[][] = [];
  let words: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as { op?: string; word?: string };
    if (t.op !== undefined) {
      if (words.length > 0) commands.push(words);
      words = [];
      continue;
    }
    const w = t.word as string;
    const redirect = /^(\d*)([<>]+)(&?\d*)(.*)$/.exec(w);
    if (redirect) {
      if ((redirect[3] ?? '') === '' && (redirect[4] ?? '') === '') i++; // the target is the next word
      continue;
    }
    if (words.length === 0 && /^[A-Z_][A-Z0-9_]*=/.test(w)) continue;
    words.push(w);
  }
  if (words.length > 0) commands.push(words);
  return commands;
}

function leaves(cmd: Command): Command[] {
  return cmd.commands.length === 0 ? [cmd] : cmd.commands.flatMap(leaves);
}

/** Parses `openshell <args>` with the real command tree; returns the leaf command path or throws. */
async function parseOpenshell(args: readonly string[]): Promise<string> {
  const program = buildProgram('0.0.0-docs');
  let ran: string | undefined;
  for (const leaf of leaves(program)) {
    leaf.action(() => {
      const path: string[] = [];
      for (let c: Command | null = leaf; c !== null && c !== program; c = c.parent) path.unshift(c.name());
      ran = path.join(' ');
    });
  }
  let errors = '';
  const swallow = (c: Command) => {
    c.exitOverride();
    c.configureOutput({ writeOut: () => {}, writeErr: (s) => (errors += s) });
    for (const sub of c.commands) swallow(sub);
  };
  swallow(program);
  try {
    await program.parseAsync(['node', 'openshell', ...args]);
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help') return 'help';
    throw new Error(`${(err as Error).message} ${errors}`.trim());
  }
  return ran ?? 'group help';
}

/**
 * A synopsis line (`openshell inference get [--route NAME | --all]`): the command path must exist and
 * every flag it mentions must be an option of that command (or a global one).
 */
function checkSynopsis(words: readonly string[]): string {
  const program = buildProgram('0.0.0-docs');
  let cmd: Command = program;
  const path: string[] = [];
  for (const w of words) {
    const sub = cmd.commands.find((c) => c.name() === w);
    if (sub === undefined) break;
    cmd = sub;
    path.push(w);
  }
  if (cmd === program) throw new Error(`unknown command '${words[0] ?? ''}'`);
  if (cmd.commands.length > 0) throw new Error(`'${path.join(' ')}' is a group: name one of its commands`);
  const known = new Set([...cmd.options, ...program.options].flatMap((o) => [o.long, o.short].filter((x): x is string => x !== undefined)));
  for (const w of words) {
    const flag = /^(--?[a-z][a-z-]*)/.exec(w.replace(/^\[/, ''))?.[1];
    if (flag !== undefined && !known.has(flag)) throw new Error(`'${path.join(' ')}' has no option ${flag}`);
  }
  return path.join(' ');
}

describe('commands shown in the docs', () => {
  it('every `openshell`, `openshell-gateway` and `openshell-supervisor` line parses', async () => {
    const problems: string[] = [];
    let checked = 0;
    for (const file of await docFiles()) {
      const text = await readFile(file, 'utf8');
      for (const line of shellLines(text)) {
        // A synopsis (`[--a | --b]`) is checked whole; `|` there is an alternative, not a pipe.
        const synopsis = /^\s*openshell .*\s\[/.test(line) ? [(line.split(' #')[0] ?? '').trim().split(/\s+/)] : undefined;
        for (const words of synopsis ?? commandsOf(line)) {
          const [bin, ...args] = words;
          const where = `${relative(REPO_ROOT, file)}: ${line.trim()}`;
          try {
            if (bin === 'openshell' && synopsis !== undefined) {
              checkSynopsis(args);
              checked++;
            } else if (bin === 'openshell') {
              await parseOpenshell(args);
              checked++;
            } else if (bin === 'openshell-gateway' && (args.length === 0 || args[0]?.startsWith('-'))) {
              parseGatewayArgs(args, {});
              checked++;
            } else if (bin === 'openshell-supervisor' && args[0]?.startsWith('-')) {
              parseSupervisorArgs(args);
              checked++;
            }
          } catch (err) {
            problems.push(`${where}\n    → ${(err as Error).message}`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(10);
  });

  it('the checker itself refuses what the CLI refuses', async () => {
    await expect(parseOpenshell(['provider', 'create', '--name', 'x', '--type', 'y', '--from-claude-login'])).resolves.toBe('provider create');
    await expect(parseOpenshell(['provider', 'create', '--name', 'x'])).rejects.toThrow(/--type/);
    await expect(parseOpenshell(['provider', 'frobnicate'])).rejects.toThrow(/unknown command/);
    await expect(parseOpenshell(['sandbox', 'run', 'dev', '--isolation', 'chroot', '--', 'true'])).rejects.toThrow(/chroot/);
    await expect(parseOpenshell(['inference', 'set', '--provider', 'p', '--bogus'])).rejects.toThrow(/--bogus/);
    expect(checkSynopsis(['inference', 'get', '[--route', 'NAME', '|', '--all]'])).toBe('inference get');
    expect(() => checkSynopsis(['inference', 'get', '[--everything]'])).toThrow(/no option --everything/);
    expect(commandsOf('printf %s "$KEY" | openshell provider create --name nv --type nvidia --credential NVIDIA_API_KEY  # note')).toEqual([
      ['printf', '%s', '$KEY'],
      ['openshell', 'provider', 'create', '--name', 'nv', '--type', 'nvidia', '--credential', 'NVIDIA_API_KEY'],
    ]);
    expect(commandsOf('OPENSHELL_KEK=$(cat k) openshell-gateway --listen 127.0.0.1:8788 3<pipe 2>&1')).toEqual([
      ['openshell-gateway', '--listen', '127.0.0.1:8788'],
    ]);
  });

  it('every docs page compiles as MDX', async () => {
    const failures: string[] = [];
    for (const file of (await docFiles()).filter((f) => f.endsWith('.mdx'))) {
      try {
        await compile(await readFile(file, 'utf8'));
      } catch (err) {
        failures.push(`${relative(REPO_ROOT, file)}: ${(err as Error).message}`);
      }
    }
    expect(failures).toEqual([]);
  });
});
