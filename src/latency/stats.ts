/** Small order statistics used by the evaluation. */

/** The q-quantile (0..1) of an ascending array by linear interpolation; NaN when empty. */
export function quantileSorted (sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN
  const pos = Math.min(1, Math.max(0, q)) * (sorted.length - 1)
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo)
}
