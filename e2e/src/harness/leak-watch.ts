import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type CanaryHaystack, type CanaryHit, canaryScan } from '@openshell/testing';
import type { CliRun } from './cli.js';

/** OpenShell's own token shapes (admin `osa_…`, sandbox `oss_…`): none may show up where we look. */
const OPENSHELL_TOKEN = /\bos[as]_[A-Za-z0-9_-]{16,}/;

/** A finding, without the secret. */
export interface Leak {
  readonly secret: string;
  readonly where: string;
  readonly form: string;
}

/**
 * Everything a run has to prove secret-free: every token the fakes issued (and the admin token), and
 * every place they must never reach — CLI outputs and the argv of every process seen, child
 * environment dumps, gateway and supervisor logs, sandbox workspaces, the gateway's data dir.
 */
export class LeakWatch {
  private readonly secrets = new Map<string, string>();
  private readonly texts: { label: string; content: string; allowOpenShellTokens?: boolean }[] = [];
  private readonly dirs: { label: string; path: string; skip: readonly string[] }[] = [];
  private readonly sources: { label: string; read: () => string }[] = [];

  /** A secret to look for, under a name used in reports (never the value). */
  secret(name: string, value: string | undefined): void {
    if (value !== undefined && value !== '') this.secrets.set(value, name);
  }

  text(label: string, content: string): void {
    this.texts.push({ label, content });
  }

  /** A CLI run: stdout, stderr and every command line sampled while it ran. */
  cli(run: CliRun): void {
    const label = `openshell ${run.args.slice(0, 3).join(' ')}`;
    this.texts.push({ label: `${label} (stdout)`, content: run.stdout });
    this.texts.push({ label: `${label} (stderr)`, content: run.stderr });
    this.texts.push({ label: `${label} (argv of all processes)`, content: run.commandLines.join('\n') });
    this.texts.push({ label: `${label} (environments of the CLI and its descendants)`, content: run.environments.join('\n') });
  }

  /** Text read at each scan (e.g. a running gateway's log so far). */
  source(label: string, read: () => string): void {
    this.sources.push({ label, read });
  }

  /** A directory scanned recursively; `skip` = file paths left out (e.g. the 370 MB claude binary). */
  dir(label: string, path: string, skip: readonly string[] = []): void {
    this.dirs.push({ label, path, skip });
  }

  /** Finds every place any secret (raw, base64, url-encoded, hex) or any OpenShell token shape shows up. */
  async scan(): Promise<Leak[]> {
    const haystacks: CanaryHaystack[] = [];
    const labels: string[] = [];
    const leaks: Leak[] = [];
    const texts = [...this.texts, ...this.sources.map((s) => ({ label: s.label, content: s.read() }))];
    for (const t of texts) {
      haystacks.push({ label: t.label, content: t.content });
      labels.push(t.label);
      const m = OPENSHELL_TOKEN.exec(t.content);
      if (m) leaks.push({ secret: 'an OpenShell token (osa_/oss_)', where: t.label, form: 'raw' });
    }
    for (const d of this.dirs) {
      for (const file of await listFiles(d.path, d.skip)) haystacks.push({ path: file });
    }
    const values = [...this.secrets.keys()];
    if (values.length === 0) return leaks;
    const hits: CanaryHit[] = await canaryScan(haystacks, values);
    for (const h of hits) leaks.push({ secret: this.secrets.get(values[h.secretIndex] as string) ?? '?', where: h.where, form: h.form });
    return leaks;
  }
}

async function listFiles(root: string, skip: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, depth: number) => {
    if (depth > 32 || out.length > 20_000) return;
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch {
      return;
    }
    for (const name of entries) {
      const path = join(dir, name);
      if (skip.includes(path)) continue;
      const st = await lstat(path).catch(() => undefined);
      if (st?.isDirectory()) await walk(path, depth + 1);
      else if (st?.isFile() || st?.isSymbolicLink()) out.push(path);
    }
  };
  await walk(root, 0);
  return out;
}
