/**
 * Causal counter (Almeida et al., "CCounter"): a PN counter built on a dot
 * store, so it can be reset by removal inside an ORMap. Each replica keeps
 * one live dot carrying its net contribution; an update replaces (covers)
 * every live dot of its replica with one new dot carrying their sum.
 * A reset removes the observed dots; an increment concurrent with a reset
 * survives with its replica's whole contribution (documented in docs/crdt.md).
 */
import { contextFromDots, nextDot } from './causal-context.js'
import { bottomCausal, clearCausal, isBottomCausal, joinCausal } from './causal.js'
import type { CCounter } from './causal.js'
import { assertReplicaId, assertSafeInteger } from './dot.js'
import type { Dot, ReplicaId } from './dot.js'
import { CrdtArgumentError } from './errors.js'
import { ccounterValue } from './stores.js'

export type { CCounter }

export function bottom (): CCounter {
  return bottomCausal({ kind: 'ccounter' }) as CCounter
}

export const isBottom = isBottomCausal as (s: CCounter) => boolean
export const join = joinCausal<CCounter>

/** Delta-mutator: add a signed amount at `replica`. */
export function add (s: CCounter, replica: ReplicaId, delta: number): CCounter {
  assertReplicaId(replica)
  assertSafeInteger(delta, 'delta')
  const old = s.store.filter((e) => e.dot.replica === replica)
  const base = old.reduce((sum, e) => sum + e.value, 0)
  const next = base + delta
  if (!Number.isSafeInteger(next)) throw new CrdtArgumentError('delta', 'counter would exceed the safe integer range')
  const dot = nextDot(s.ctx, replica)
  const covered: Dot[] = old.map((e) => e.dot)
  covered.push(dot)
  return { type: 'ccounter', ctx: contextFromDots(covered), store: [{ dot, value: next }] }
}

export function inc (s: CCounter, replica: ReplicaId, n = 1): CCounter {
  return add(s, replica, n)
}

export function dec (s: CCounter, replica: ReplicaId, n = 1): CCounter {
  return add(s, replica, -n)
}

/** Delta-mutator: reset to zero (observed contributions only). */
export function reset (s: CCounter): CCounter {
  return clearCausal(s)
}

export function value (s: CCounter): number {
  return ccounterValue(s.store)
}
