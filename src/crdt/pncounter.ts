/**
 * Positive-negative counter: two grow-only counters, value = P - N.
 */
import * as gcounter from './gcounter.js'
import type { GCounter } from './gcounter.js'
import { assertReplicaId, assertSafeInteger } from './dot.js'
import type { ReplicaId } from './dot.js'

export interface PNCounter {
  readonly type: 'pncounter'
  readonly p: ReadonlyMap<ReplicaId, number>
  readonly n: ReadonlyMap<ReplicaId, number>
}

function g (counts: ReadonlyMap<ReplicaId, number>): GCounter {
  return { type: 'gcounter', counts }
}

export function bottom (): PNCounter {
  return { type: 'pncounter', p: new Map(), n: new Map() }
}

export function isBottom (s: PNCounter): boolean {
  return s.p.size === 0 && s.n.size === 0
}

/** Delta-mutator: add a signed amount at `replica`. */
export function add (s: PNCounter, replica: ReplicaId, delta: number): PNCounter {
  assertReplicaId(replica)
  assertSafeInteger(delta, 'delta')
  if (delta >= 0) return { type: 'pncounter', p: gcounter.inc(g(s.p), replica, delta).counts, n: new Map() }
  return { type: 'pncounter', p: new Map(), n: gcounter.inc(g(s.n), replica, -delta).counts }
}

export function inc (s: PNCounter, replica: ReplicaId, n = 1): PNCounter {
  return add(s, replica, n)
}

export function dec (s: PNCounter, replica: ReplicaId, n = 1): PNCounter {
  return add(s, replica, -n)
}

export function join (a: PNCounter, b: PNCounter): PNCounter {
  return { type: 'pncounter', p: gcounter.join(g(a.p), g(b.p)).counts, n: gcounter.join(g(a.n), g(b.n)).counts }
}

export function value (s: PNCounter): number {
  return gcounter.value(g(s.p)) - gcounter.value(g(s.n))
}

export function equals (a: PNCounter, b: PNCounter): boolean {
  return gcounter.equals(g(a.p), g(b.p)) && gcounter.equals(g(a.n), g(b.n))
}

/** The entries of `s` that are larger than in `than` (what a replica with `than` is missing). */
export function missing (s: PNCounter, than: { readonly p: ReadonlyMap<ReplicaId, number>, readonly n: ReadonlyMap<ReplicaId, number> }): PNCounter {
  return { type: 'pncounter', p: gcounter.missing(g(s.p), than.p).counts, n: gcounter.missing(g(s.n), than.n).counts }
}
