/**
 * Invocation figures per version (pure): counts, errors and a latency
 * histogram with fixed buckets (LATENCY_BUCKETS_MS), so figures from many
 * peers add up exactly and the p95 of the sum is well defined (reported as
 * the upper bound of the bucket that holds it: coarse, never optimistic).
 */
import { LATENCY_BUCKETS_MS } from '../catalogue/index.js'
import type { RolloutFigures, RolloutReportRecord, VersionFigures } from '../catalogue/index.js'

export function emptyFigures (): VersionFigures {
  return { count: 0, errors: 0, buckets: new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0) }
}

export function bucketOf (ms: number): number {
  const i = LATENCY_BUCKETS_MS.findIndex(b => ms <= b)
  return i === -1 ? LATENCY_BUCKETS_MS.length : i
}

export function observe (f: VersionFigures, ms: number, ok: boolean): void {
  f.count++
  if (!ok) f.errors++
  f.buckets[bucketOf(ms)]++
}

export function add (a: VersionFigures, b: VersionFigures): VersionFigures {
  return { count: a.count + b.count, errors: a.errors + b.errors, buckets: a.buckets.map((x, i) => x + (b.buckets[i] ?? 0)) }
}

/** the upper bound (ms) of the bucket holding quantile q; the +Inf bucket reports the largest bound x 2 */
export function quantileMs (f: VersionFigures, q: number): number | null {
  const n = f.buckets.reduce((s, x) => s + x, 0)
  if (n === 0) return null
  const rank = Math.ceil(q * n)
  let seen = 0
  for (let i = 0; i < f.buckets.length; i++) {
    seen += f.buckets[i]
    if (seen >= rank) return i < LATENCY_BUCKETS_MS.length ? LATENCY_BUCKETS_MS[i] : LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1] * 2
  }
  return null
}

export function summarise (f: VersionFigures): RolloutFigures {
  return { count: f.count, errors: f.errors, errorRate: f.count === 0 ? 0 : Math.round((f.errors / f.count) * 10000) / 10000, p95Ms: quantileMs(f, 0.95) }
}

/** the sum of the peers' figures of one rollout for one version */
export function aggregate (reports: readonly RolloutReportRecord[], rolloutId: string, cid: string, filter: (r: RolloutReportRecord) => boolean = () => true): VersionFigures {
  let total = emptyFigures()
  for (const r of reports) {
    if (r.rollout !== rolloutId || !filter(r)) continue
    const f = r.versions[cid]
    if (f != null) total = add(total, f)
  }
  return total
}
