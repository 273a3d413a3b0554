/**
 * Causal context: the set of dots a replica has seen, kept compact as a
 * version vector (every counter 1..vv[r] of replica r) plus a dot cloud
 * (seen dots above a gap). Compaction moves cloud dots into the vector as
 * soon as they become contiguous, so a context that has seen everything
 * is just a version vector: removals leave no tombstones.
 *
 * Invariants (kept by every function here and checked by the codec):
 * vv entries are > 0; cloud sets are non-empty and hold only counters
 * > vv[r] + 1.
 */
import { compareStrings } from './atom.js'
import type { Dot, ReplicaId } from './dot.js'

export interface CausalContext {
  readonly vv: ReadonlyMap<ReplicaId, number>
  readonly cloud: ReadonlyMap<ReplicaId, ReadonlySet<number>>
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
  return ctx.cloud.get(dot.replica)?.has(dot.counter) ?? false
}

/** The largest counter of `replica` in the context (0 if none). */
export function contextMax (ctx: CausalContext, replica: ReplicaId): number {
  let max = ctx.vv.get(replica) ?? 0
  const cloud = ctx.cloud.get(replica)
  if (cloud != null) for (const c of cloud) if (c > max) max = c
  return max
}

/** The next fresh dot of `replica`. A replica's own dots are always contiguous in its own context. */
export function nextDot (ctx: CausalContext, replica: ReplicaId): Dot {
  return { replica, counter: contextMax(ctx, replica) + 1 }
}

/** Mutable builder used to produce compacted contexts. */
class ContextBuilder {
  readonly vv = new Map<ReplicaId, number>()
  readonly cloud = new Map<ReplicaId, Set<number>>()

  addRange (replica: ReplicaId, upTo: number): void {
    if (upTo > (this.vv.get(replica) ?? 0)) this.vv.set(replica, upTo)
  }

  addDot (replica: ReplicaId, counter: number): void {
    if (counter <= (this.vv.get(replica) ?? 0)) return
    let set = this.cloud.get(replica)
    if (set == null) { set = new Set(); this.cloud.set(replica, set) }
    set.add(counter)
  }

  build (): CausalContext {
    // Compact: absorb contiguous cloud dots, drop covered ones.
    for (const [replica, set] of this.cloud) {
      let top = this.vv.get(replica) ?? 0
      while (set.has(top + 1)) { set.delete(top + 1); top++ }
      if (top > 0) this.vv.set(replica, top)
      for (const c of set) if (c <= top) set.delete(c)
      if (set.size === 0) this.cloud.delete(replica)
    }
    return sortedContext(this.vv, this.cloud)
  }
}

/** Rebuild maps in replica order so iteration order is deterministic. */
function sortedContext (vv: Map<ReplicaId, number>, cloud: Map<ReplicaId, Set<number>>): CausalContext {
  const svv = new Map([...vv.entries()].filter(([, n]) => n > 0).sort((a, b) => compareStrings(a[0], b[0])))
  const scloud = new Map([...cloud.entries()].sort((a, b) => compareStrings(a[0], b[0]))
    .map(([r, s]) => [r, new Set([...s].sort((x, y) => x - y))] as const))
  return { vv: svv, cloud: scloud }
}

export function contextFromDots (dots: Iterable<Dot>): CausalContext {
  const b = new ContextBuilder()
  for (const d of dots) b.addDot(d.replica, d.counter)
  return b.build()
}

/** Build a context from raw parts (compacting). */
export function makeContext (vv: Iterable<readonly [ReplicaId, number]>, cloud: Iterable<Dot> = []): CausalContext {
  const b = new ContextBuilder()
  for (const [r, n] of vv) b.addRange(r, n)
  for (const d of cloud) b.addDot(d.replica, d.counter)
  return b.build()
}

export function joinContexts (a: CausalContext, b: CausalContext): CausalContext {
  if (isEmptyContext(a)) return b
  if (isEmptyContext(b)) return a
  const out = new ContextBuilder()
  for (const ctx of [a, b]) {
    for (const [r, n] of ctx.vv) out.addRange(r, n)
  }
  for (const ctx of [a, b]) {
    for (const [r, set] of ctx.cloud) for (const c of set) out.addDot(r, c)
  }
  return out.build()
}

export function addDots (ctx: CausalContext, dots: Iterable<Dot>): CausalContext {
  return joinContexts(ctx, contextFromDots(dots))
}

/** Every dot of the context (expands the version vector: use on small contexts only). */
export function * contextDots (ctx: CausalContext): Generator<Dot> {
  for (const [replica, n] of ctx.vv) for (let c = 1; c <= n; c++) yield { replica, counter: c }
  for (const [replica, set] of ctx.cloud) for (const counter of set) yield { replica, counter }
}

/**
 * The dots of `a` that `b` lacks, as a context. Its size is proportional
 * to the gap between the two, not to their history.
 */
export function contextDifference (a: CausalContext, b: CausalContext): CausalContext {
  const out = new ContextBuilder()
  for (const [r, n] of a.vv) {
    const bTop = b.vv.get(r) ?? 0
    const bCloud = b.cloud.get(r)
    if (bTop === 0 && bCloud == null) { out.addRange(r, n); continue }
    for (let c = bTop + 1; c <= n; c++) if (!(bCloud?.has(c) ?? false)) out.addDot(r, c)
  }
  for (const [r, set] of a.cloud) {
    for (const c of set) if (!contextContains(b, { replica: r, counter: c })) out.addDot(r, c)
  }
  return out.build()
}

/** How many dots of `a` are missing from `b`, without materialising them. */
export function contextDifferenceCount (a: CausalContext, b: CausalContext): number {
  let count = 0
  for (const [r, n] of a.vv) {
    const bTop = b.vv.get(r) ?? 0
    if (n <= bTop) continue
    count += n - bTop
    const bCloud = b.cloud.get(r)
    if (bCloud != null) for (const c of bCloud) if (c <= n) count--
  }
  for (const [r, set] of a.cloud) {
    for (const c of set) if (!contextContains(b, { replica: r, counter: c })) count++
  }
  return count
}

/** True when every dot of `a` is in `b`. */
export function contextLeq (a: CausalContext, b: CausalContext): boolean {
  for (const [r, n] of a.vv) {
    const bTop = b.vv.get(r) ?? 0
    if (n <= bTop) continue
    const bCloud = b.cloud.get(r)
    if (bCloud == null) return false
    for (let c = bTop + 1; c <= n; c++) if (!bCloud.has(c)) return false
  }
  for (const [r, set] of a.cloud) {
    for (const c of set) if (!contextContains(b, { replica: r, counter: c })) return false
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

/** Storage cost of the context: version-vector entries plus cloud dots. */
export function contextSize (ctx: CausalContext): number {
  let n = ctx.vv.size
  for (const s of ctx.cloud.values()) n += s.size
  return n
}

/** Number of dots the context covers (events seen). */
export function contextCount (ctx: CausalContext): number {
  let n = 0
  for (const v of ctx.vv.values()) n += v
  for (const s of ctx.cloud.values()) n += s.size
  return n
}
