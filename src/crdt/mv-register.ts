/**
 * Multi-value register: a write overwrites the values it has seen;
 * concurrent writes are all kept until a later write covers them.
 */
import { assertAtom } from './atom.js'
import type { Atom } from './atom.js'
import { contextFromDots, nextDot } from './causal-context.js'
import { bottomCausal, clearCausal, isBottomCausal, joinCausal } from './causal.js'
import type { MVRegister } from './causal.js'
import { assertReplicaId } from './dot.js'
import { mvValue } from './stores.js'

export type { MVRegister }

export function bottom (): MVRegister {
  return bottomCausal({ kind: 'mvregister' }) as MVRegister
}

export const isBottom = isBottomCausal as (s: MVRegister) => boolean
export const join = joinCausal<MVRegister>

/** Delta-mutator: write `value` at `replica`, overwriting every value seen. */
export function write (s: MVRegister, replica: string, value: Atom): MVRegister {
  assertReplicaId(replica)
  assertAtom(value, 'value')
  const dot = nextDot(s.ctx, replica)
  return { type: 'mvregister', ctx: contextFromDots([...s.store.map((e) => e.dot), dot]), store: [{ dot, value }] }
}

/** Delta-mutator: remove every value seen. */
export function clear (s: MVRegister): MVRegister {
  return clearCausal(s)
}

/** The concurrent values, sorted, duplicates removed. */
export function value (s: MVRegister): Atom[] {
  return mvValue(s.store)
}
