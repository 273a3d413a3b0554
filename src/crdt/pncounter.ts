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

/** Per-replica version: p[r] + n[r] grows by every mutation of r. */
export function versions (s: PNCounter): Map<ReplicaId, number> {
  const out = new Map<ReplicaId, number>(s.p)
  for (const [r, v] of s.n) out.set(r, (out.get(r) ?? 0) + v)
  return out
}

/** The entries of replicas whose version exceeds `than`. */
export function missing (s: PNCounter, than: ReadonlyMap<ReplicaId, number>): PNCounter {
  const p = new Map<ReplicaId, number>()
  const n = new Map<ReplicaId, number>()
  for (const [r, v] of versions(s)) {
    if (v <= (than.get(r) ?? 0)) continue
    const pv = s.p.get(r)
    const nv = s.n.get(r)
    if (pv != null) p.set(r, pv)
    if (nv != null) n.set(r, nv)
  }
  return { type: 'pncounter', p, n }
}
