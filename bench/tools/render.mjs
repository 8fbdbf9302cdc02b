// Re-renders bench/RESULTS.md from bench/results.json and the current bench/analysis.md (no re-run).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderMarkdown } from '../lib/report.mjs';

const at = (p) => fileURLToPath(new URL(p, import.meta.url));
const results = JSON.parse(readFileSync(at('../results.json'), 'utf8'));
if (existsSync(at('../analysis.md'))) results.analysis = readFileSync(at('../analysis.md'), 'utf8');
writeFileSync(at('../RESULTS.md'), renderMarkdown(results));
