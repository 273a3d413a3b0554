/**
 * Grow-only counter: one monotone entry per replica, join = pointwise max.
 */
import { compareStrings } from './atom.js'
import { assertCount, assertReplicaId } from './dot.js'
import type { ReplicaId } from './dot.js'
import { CrdtArgumentError } from './errors.js'

export interface GCounter {
  readonly type: 'gcounter'
  /** replica -> total increments by that replica (entries > 0). */
  readonly counts: ReadonlyMap<ReplicaId, number>
}

export function bottom (): GCounter {
  return { type: 'gcounter', counts: new Map() }
}

export function isBottom (s: GCounter): boolean {
  return s.counts.size === 0
}

/** Delta-mutator: increment by `n` >= 0 at `replica`. */
export function inc (s: GCounter, replica: ReplicaId, n = 1): GCounter {
  assertReplicaId(replica)
  assertCount(n, 'n')
  const next = (s.counts.get(replica) ?? 0) + n
  if (!Number.isSafeInteger(next)) throw new CrdtArgumentError('n', 'counter would exceed Number.MAX_SAFE_INTEGER')
  return n === 0 ? bottom() : { type: 'gcounter', counts: new Map([[replica, next]]) }
}

export function join (a: GCounter, b: GCounter): GCounter {
  if (b.counts.size === 0) return a
  if (a.counts.size === 0) return b
  const out = new Map(a.counts)
  for (const [r, n] of b.counts) if (n > (out.get(r) ?? 0)) out.set(r, n)
  return { type: 'gcounter', counts: out }
}

export function value (s: GCounter): number {
  let sum = 0
  for (const n of s.counts.values()) sum += n
  return sum
}

/** The entries of `s` that are larger than in `than` (what `than` is missing). */
export function missing (s: GCounter, than: ReadonlyMap<ReplicaId, number>): GCounter {
  const out = new Map<ReplicaId, number>()
  for (const [r, n] of s.counts) if (n > (than.get(r) ?? 0)) out.set(r, n)
  return { type: 'gcounter', counts: out }
}

export function equals (a: GCounter, b: GCounter): boolean {
  if (a.counts.size !== b.counts.size) return false
  for (const [r, n] of a.counts) if (b.counts.get(r) !== n) return false
  return true
}

export function sortedEntries (counts: ReadonlyMap<ReplicaId, number>): Array<[ReplicaId, number]> {
  return [...counts.entries()].sort((x, y) => compareStrings(x[0], y[0]))
}
