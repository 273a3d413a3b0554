/**
 * Causal context: the set of dots a replica has seen, kept compact as a
 * version vector (every counter 1..vv[r] of replica r) plus a dot cloud
 * (seen dots above a gap). Compaction moves cloud dots into the vector as
 * soon as they become contiguous, so a context that has seen everything
 * is just a version vector: removals leave no tombstones.
 *
 * Invariants (kept by every function here and checked by the codec):
 * vv entries are > 0; cloud range lists are non-empty, sorted, disjoint,
 * non-adjacent, and start above vv[r] + 1. A gap of any length is one
 * range, so memory never grows with the number of dots in a gap.
 */
import { compareStrings } from './atom.js'
import type { Dot, ReplicaId } from './dot.js'
import { CrdtArgumentError } from './errors.js'
import { normalizeRanges, rangesContain, rangesCount, subtractRanges } from './ranges.js'
import type { Range, Ranges } from './ranges.js'

export interface CausalContext {
  readonly vv: ReadonlyMap<ReplicaId, number>
  /** replica -> sorted, disjoint, non-adjacent inclusive ranges, all above vv[r] + 1. */
  readonly cloud: ReadonlyMap<ReplicaId, Ranges>
}

const EMPTY: CausalContext = Object.freeze({ vv: new Map(), cloud: new Map() })

export function emptyContext (): CausalContext {
  return EMPTY
}

export function isEmptyContext (ctx: CausalContext): boolean {
  return ctx.vv.size === 0 && ctx.cloud.size === 0
}

export function contextContains (ctx: CausalContext, dot: Dot): boolean {
  if (dot.counter <= (ctx.vv.get(dot.replica) ?? 0)) return true
  const rs = ctx.cloud.get(dot.replica)
  return rs != null && rangesContain(rs, dot.counter)
}

/** The largest counter of `replica` in the context (0 if none). */
export function contextMax (ctx: CausalContext, replica: ReplicaId): number {
  const rs = ctx.cloud.get(replica)
  if (rs != null && rs.length > 0) return rs[rs.length - 1][1]
  return ctx.vv.get(replica) ?? 0
}

/** The next fresh dot of `replica`. A replica's own dots are always contiguous in its own context. */
export function nextDot (ctx: CausalContext, replica: ReplicaId): Dot {
  const counter = contextMax(ctx, replica) + 1
  if (!Number.isSafeInteger(counter)) throw new CrdtArgumentError('replica', `dot counters of ${replica} are exhausted`)
  return { replica, counter }
}

/** Mutable builder used to produce compacted contexts. */
class ContextBuilder {
  private readonly vv = new Map<ReplicaId, number>()
  private readonly cloud = new Map<ReplicaId, Range[]>()

  /** Adds dots 1..upTo of `replica`. */
  addPrefix (replica: ReplicaId, upTo: number): void {
    if (upTo > (this.vv.get(replica) ?? 0)) this.vv.set(replica, upTo)
  }

  /** Adds dots lo..hi of `replica`. */
  addRange (replica: ReplicaId, lo: number, hi: number): void {
    if (hi < lo) return
    if (lo <= 1) { this.addPrefix(replica, hi); return }
    let list = this.cloud.get(replica)
    if (list == null) { list = []; this.cloud.set(replica, list) }
    list.push([lo, hi])
  }

  addDot (replica: ReplicaId, counter: number): void {
    this.addRange(replica, counter, counter)
  }

  build (): CausalContext {
    const cloud = new Map<ReplicaId, Ranges>()
    // Compact: absorb ranges that touch the vector, drop covered ones.
    for (const [replica, list] of this.cloud) {
      const rs = normalizeRanges(list)
      let top = this.vv.get(replica) ?? 0
      let i = 0
      while (i < rs.length && rs[i][0] <= top + 1) { if (rs[i][1] > top) top = rs[i][1]; i++ }
      if (top > 0) this.vv.set(replica, top)
      if (i < rs.length) cloud.set(replica, i === 0 ? rs : rs.slice(i))
    }
    const svv = new Map([...this.vv.entries()].filter(([, n]) => n > 0).sort((a, b) => compareStrings(a[0], b[0])))
    const scloud = new Map([...cloud.entries()].sort((a, b) => compareStrings(a[0], b[0])))
    return { vv: svv, cloud: scloud }
  }
}

export function contextFromDots (dots: Iterable<Dot>): CausalContext {
  const b = new ContextBuilder()
  for (const d of dots) b.addDot(d.replica, d.counter)
  return b.build()
}

/** Build a context from raw parts (compacting). `ranges` are inclusive [replica, lo, hi]. */
export function makeContext (vv: Iterable<readonly [ReplicaId, number]>, cloud: Iterable<Dot> = [], ranges: Iterable<readonly [ReplicaId, number, number]> = []): CausalContext {
  const b = new ContextBuilder()
  for (const [r, n] of vv) b.addPrefix(r, n)
  for (const d of cloud) b.addDot(d.replica, d.counter)
  for (const [r, lo, hi] of ranges) b.addRange(r, lo, hi)
  return b.build()
}

function addAll (b: ContextBuilder, ctx: CausalContext): void {
  for (const [r, n] of ctx.vv) b.addPrefix(r, n)
  for (const [r, rs] of ctx.cloud) for (const [lo, hi] of rs) b.addRange(r, lo, hi)
}

export function joinContexts (a: CausalContext, b: CausalContext): CausalContext {
  if (isEmptyContext(a)) return b
  if (isEmptyContext(b)) return a
  const out = new ContextBuilder()
  addAll(out, a)
  addAll(out, b)
  return out.build()
}

/** Every dot of the context (expands ranges: use on small contexts only). */
export function * contextDots (ctx: CausalContext): Generator<Dot> {
  for (const [replica, n] of ctx.vv) for (let c = 1; c <= n; c++) yield { replica, counter: c }
  for (const [replica, rs] of ctx.cloud) for (const [lo, hi] of rs) for (let c = lo; c <= hi; c++) yield { replica, counter: c }
}

/** The dots of `replica` in `ctx` as ranges. */
function replicaRanges (ctx: CausalContext, replica: ReplicaId): Ranges {
  const top = ctx.vv.get(replica) ?? 0
  const rs = ctx.cloud.get(replica) ?? []
  return top > 0 ? [[1, top], ...rs] : rs
}

function replicasOf (ctx: CausalContext): Set<ReplicaId> {
  return new Set([...ctx.vv.keys(), ...ctx.cloud.keys()])
}

/**
 * The dots of `a` that `b` lacks, as a context. Costs O(ranges), whatever
 * the number of dots in the gap.
 */
export function contextDifference (a: CausalContext, b: CausalContext): CausalContext {
  const out = new ContextBuilder()
  for (const r of replicasOf(a)) {
    for (const [lo, hi] of subtractRanges(replicaRanges(a, r), replicaRanges(b, r))) out.addRange(r, lo, hi)
  }
  return out.build()
}

/** How many dots of `a` are missing from `b`. */
export function contextDifferenceCount (a: CausalContext, b: CausalContext): number {
  let count = 0
  for (const r of replicasOf(a)) count += rangesCount(subtractRanges(replicaRanges(a, r), replicaRanges(b, r)))
  return count
}

/** True when every dot of `a` is in `b`. */
export function contextLeq (a: CausalContext, b: CausalContext): boolean {
  for (const r of replicasOf(a)) {
    if (subtractRanges(replicaRanges(a, r), replicaRanges(b, r)).length > 0) return false
  }
  return true
}

export type ContextOrder = 'equal' | 'before' | 'after' | 'concurrent'

/** Causal order of two contexts: `before` means a ⊂ b. */
export function compareContexts (a: CausalContext, b: CausalContext): ContextOrder {
  const ab = contextLeq(a, b)
  const ba = contextLeq(b, a)
  if (ab && ba) return 'equal'
  if (ab) return 'before'
  if (ba) return 'after'
  return 'concurrent'
}

export function contextsEqual (a: CausalContext, b: CausalContext): boolean {
  return compareContexts(a, b) === 'equal'
}

/** Storage cost of the context: version-vector entries plus cloud ranges. */
export function contextSize (ctx: CausalContext): number {
  let n = ctx.vv.size
  for (const rs of ctx.cloud.values()) n += rs.length
  return n
}

/** Number of dots the context covers (events seen). */
export function contextCount (ctx: CausalContext): number {
  let n = 0
  for (const v of ctx.vv.values()) n += v
  for (const rs of ctx.cloud.values()) n += rangesCount(rs)
  return n
}
