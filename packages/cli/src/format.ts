import type { Output } from './output.js';

/** Renders rows as a plain table (cli-table3 without borders), header bold when colour is on. */
export async function renderTable(out: Output, head: readonly string[], rows: ReadonlyArray<readonly (string | number)[]>): Promise<string> {
  const { default: Table } = await import('cli-table3');
  const table = new Table({
    head: head.map((h) => out.colors.bold(h)),
    style: { head: [], border: [], compact: true, 'padding-left': 0, 'padding-right': 2 },
    chars: {
      top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
      bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
      left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '',
    },
  });
  for (const r of rows) table.push(r.map((c) => String(c)));
  return table.toString().split('\n').map((l) => l.trimEnd()).join('\n');
}

/** `2026-01-01 00:00:00 UTC` for an epoch-ms time, `-` when absent. */
export function formatTime(ms: number | undefined | null): string {
  if (ms === undefined || ms === null || !Number.isFinite(ms) || ms <= 0) return '-';
  return `${new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, '')} UTC`;
}

/** `in 2h 5m` / `3m ago` relative to now. */
export function formatRelative(ms: number | undefined | null, now = Date.now()): string {
  if (ms === undefined || ms === null || !Number.isFinite(ms) || ms <= 0) return '-';
  const d = ms - now;
  const abs = Math.abs(d);
  const h = Math.floor(abs / 3_600_000);
  const m = Math.floor((abs % 3_600_000) / 60_000);
  const s = Math.floor((abs % 60_000) / 1000);
  const text = h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m` : `${s}s`;
  return d >= 0 ? `in ${text}` : `${text} ago`;
}

/** Prints `label: value` lines, labels dimmed and aligned. */
export function keyValueLines(out: Output, pairs: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(...pairs.map(([k]) => k.length)) + 1;
  return pairs.map(([k, v]) => `  ${out.colors.dim(`${k}:`.padEnd(width))} ${v}`).join('\n');
}
