/** Small order statistics used by the filter and the evaluation. */

/** The q-quantile (0..1) of the values by linear interpolation; NaN when empty. */
export function quantile (values: readonly number[], q: number): number {
  if (values.length === 0) return NaN
  const sorted = values.slice().sort((a, b) => a - b)
  return quantileSorted(sorted, q)
}

/** As quantile() for an already ascending array. */
export function quantileSorted (sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN
  const pos = Math.min(1, Math.max(0, q)) * (sorted.length - 1)
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo)
}

export function median (values: readonly number[]): number {
  return quantile(values, 0.5)
}
