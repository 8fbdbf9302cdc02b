// Summarizes a .cpuprofile: self time by function and by file (top N). Usage: node prof-summary.mjs FILE [N]
import { readFileSync } from 'node:fs';

const [file, nArg] = process.argv.slice(2);
const n = Number(nArg ?? 30);
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((node) => [node.id, node]));
const self = new Map();
const dt = prof.timeDeltas;
for (let i = 0; i < prof.samples.length; i++) self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + (dt[i] ?? 0));
const total = [...self.values()].reduce((a, b) => a + b, 0);
const fn = new Map();
const files = new Map();
for (const [id, us] of self) {
  const { callFrame: cf } = byId.get(id);
  const short = cf.url.replace(/^.*node_modules\/\.pnpm\/([^/]+)\/node_modules\//, '$1:').replace(/^file:\/\/\/work\/main\//, '');
  const key = `${cf.functionName || '(anon)'} ${short}:${cf.lineNumber + 1}`;
  fn.set(key, (fn.get(key) ?? 0) + us);
  const f = short || `(${cf.functionName})`;
  files.set(f, (files.get(f) ?? 0) + us);
}
const show = (m) =>
  [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`)
    .join('\n');
console.log(`total ${(total / 1e6).toFixed(2)} s sampled\n== self time by function\n${show(fn)}\n== self time by file\n${show(files)}`);

// Callers of the functions named in PROF_CALLERS (comma-separated), by self time of that function.
const wanted = (process.env.PROF_CALLERS ?? '').split(',').filter(Boolean);
if (wanted.length > 0) {
  const parent = new Map();
  for (const node of prof.nodes) for (const c of node.children ?? []) parent.set(c, node.id);
  const chains = new Map();
  for (const [id, us] of self) {
    const node = byId.get(id);
    if (!wanted.includes(node.callFrame.functionName)) continue;
    const chain = [];
    let p = parent.get(id);
    for (let d = 0; d < 6 && p !== undefined; d++) {
      const cf = byId.get(p).callFrame;
      chain.push(`${cf.functionName || '(anon)'}@${cf.url.split('/').pop()}:${cf.lineNumber + 1}`);
      p = parent.get(p);
    }
    const key = `${node.callFrame.functionName} <- ${chain.join(' <- ')}`;
    chains.set(key, (chains.get(key) ?? 0) + us);
  }
  console.log(`== callers\n${show(chains)}`);
}

// Inclusive time of the top functions (by name + file), counting each sample once per function.
if (process.env.PROF_INCLUSIVE) {
  const parent = new Map();
  for (const node of prof.nodes) for (const c of node.children ?? []) parent.set(c, node.id);
  const filter = new RegExp(process.env.PROF_INCLUSIVE);
  const incl = new Map();
  for (const [id, us] of self) {
    const seen = new Set();
    for (let p = id; p !== undefined; p = parent.get(p)) {
      const cf = byId.get(p).callFrame;
      const key = `${cf.functionName || '(anon)'} ${cf.url.split('/').slice(-2).join('/')}:${cf.lineNumber + 1}`;
      if (seen.has(key) || !filter.test(key)) continue;
      seen.add(key);
      incl.set(key, (incl.get(key) ?? 0) + us);
    }
  }
  console.log(`== inclusive (matching ${filter})\n${show(incl)}`);
}
