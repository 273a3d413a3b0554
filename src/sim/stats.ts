/** Summary statistics for the report (nearest-rank percentiles). */
export interface Summary { n: number, p50: number | null, p90: number | null, p99: number | null, max: number | null, mean: number | null }

export function percentile (sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))]
}

export function summarize (values: number[]): Summary {
  const s = values.filter(Number.isFinite).sort((a, b) => a - b)
  const r = (v: number | null): number | null => v == null ? null : Math.round(v * 10) / 10
  return { n: s.length, p50: r(percentile(s, 50)), p90: r(percentile(s, 90)), p99: r(percentile(s, 99)), max: r(s.length > 0 ? s[s.length - 1] : null), mean: r(s.length > 0 ? s.reduce((a, b) => a + b, 0) / s.length : null) }
}
