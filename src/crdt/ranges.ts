/**
 * Sets of positive integers as sorted, disjoint, non-adjacent inclusive
 * ranges [lo, hi]. Used for dot clouds so that a gap of any length costs
 * one range, in memory and on the wire.
 */

export type Range = readonly [number, number]
export type Ranges = readonly Range[]

/** Sort and merge overlapping or adjacent ranges. */
export function normalizeRanges (input: Range[]): Range[] {
  if (input.length <= 1) return input
  const sorted = [...input].sort((a, b) => a[0] - b[0])
  const out: Array<[number, number]> = []
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1]
    if (last != null && lo <= last[1] + 1) {
      if (hi > last[1]) last[1] = hi
    } else out.push([lo, hi])
  }
  return out
}

export function rangesContain (rs: Ranges, x: number): boolean {
  let lo = 0
  let hi = rs.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    const r = rs[mid]
    if (x < r[0]) hi = mid - 1
    else if (x > r[1]) lo = mid + 1
    else return true
  }
  return false
}

/** a \ b for normalized inputs. */
export function subtractRanges (a: Ranges, b: Ranges): Range[] {
  const out: Range[] = []
  let j = 0
  for (const [alo, ahi] of a) {
    let lo = alo
    while (j < b.length && b[j][1] < lo) j++
    let k = j
    while (lo <= ahi) {
      if (k >= b.length || b[k][0] > ahi) { out.push([lo, ahi]); break }
      const [blo, bhi] = b[k]
      if (blo > lo) out.push([lo, blo - 1])
      lo = bhi + 1
      k++
    }
  }
  return out
}

export function rangesCount (rs: Ranges): number {
  let n = 0
  for (const [lo, hi] of rs) n += hi - lo + 1
  return n
}
