/**
 * Add-wins observed-remove set without tombstones (ORSWOT): each element
 * carries the dots of the adds that created it; a remove puts those dots in
 * the context only, so a concurrent add (a dot the remover never saw) wins.
 */
import { assertAtom, atomKey } from './atom.js'
import type { Atom } from './atom.js'
import { contextFromDots, nextDot } from './causal-context.js'
import { bottomCausal, clearCausal, isBottomCausal, joinCausal } from './causal.js'
import type { ORSet } from './causal.js'
import { assertReplicaId } from './dot.js'
import type { ReplicaId } from './dot.js'
import { orsetValue } from './stores.js'

export type { ORSet }

export function bottom (): ORSet {
  return bottomCausal({ kind: 'orset' }) as ORSet
}

export const isBottom = isBottomCausal as (s: ORSet) => boolean
export const join = joinCausal<ORSet>

/** Delta-mutator: add `element` (its old dots are replaced by one fresh dot). */
export function add (s: ORSet, replica: ReplicaId, element: Atom): ORSet {
  assertReplicaId(replica)
  assertAtom(element, 'element')
  const key = atomKey(element)
  const dot = nextDot(s.ctx, replica)
  const old = s.store.get(key)?.dots ?? []
  return { type: 'orset', ctx: contextFromDots([...old, dot]), store: new Map([[key, { element, dots: [dot] }]]) }
}

/** Delta-mutator: remove `element` (the adds observed so far). */
export function remove (s: ORSet, element: Atom): ORSet {
  assertAtom(element, 'element')
  const old = s.store.get(atomKey(element))?.dots ?? []
  return { type: 'orset', ctx: contextFromDots(old), store: new Map() }
}

export function clear (s: ORSet): ORSet {
  return clearCausal(s)
}

export function has (s: ORSet, element: Atom): boolean {
  return s.store.has(atomKey(element))
}

/** The members, sorted. */
export function value (s: ORSet): Atom[] {
  return orsetValue(s.store)
}
