/** Median of finite numbers (NaN when none). */
export function median(values) {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Spread as (max - min) / median, so rounds can be judged for noise. */
export function spread(values) {
  const v = values.filter(Number.isFinite);
  if (v.length < 2) return 0;
  return (Math.max(...v) - Math.min(...v)) / median(v);
}

/** Percentile (0..100) by nearest rank. */
export function percentile(values, p) {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const idx = Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1));
  return v[idx];
}
