/**
 * Causal last-writer-wins register: like an MV register, a write covers the
 * entries it has seen; among concurrent entries the one with the greatest
 * (timestamp, replica id, value) wins. Removable, so it can be embedded in
 * an ORMap (the KV store of a service).
 */
import { assertAtom } from './atom.js'
import type { Atom } from './atom.js'
import { contextFromDots, nextDot } from './causal-context.js'
import { bottomCausal, clearCausal, isBottomCausal, joinCausal } from './causal.js'
import type { CLWWRegister } from './causal.js'
import { assertReplicaId } from './dot.js'
import type { ReplicaId } from './dot.js'
import { assertHlc } from './hlc.js'
import type { Hlc } from './hlc.js'
import { lwwWinner } from './stores.js'

export type { CLWWRegister }

export function bottom (): CLWWRegister {
  return bottomCausal({ kind: 'clwwregister' }) as CLWWRegister
}

export const isBottom = isBottomCausal as (s: CLWWRegister) => boolean
export const join = joinCausal<CLWWRegister>

export function set (s: CLWWRegister, replica: ReplicaId, ts: Hlc, value: Atom): CLWWRegister {
  assertReplicaId(replica)
  assertHlc(ts, 'ts')
  assertAtom(value, 'value')
  const dot = nextDot(s.ctx, replica)
  return { type: 'clwwregister', ctx: contextFromDots([...s.store.map((e) => e.dot), dot]), store: [{ dot, value: { ts, value } }] }
}

export function clear (s: CLWWRegister): CLWWRegister {
  return clearCausal(s)
}

export function value (s: CLWWRegister): Atom | undefined {
  return lwwWinner(s.store)?.value.value
}

/** The winning write with its timestamp and writer, if any. */
export function winner (s: CLWWRegister): { value: Atom, ts: Hlc, replica: ReplicaId } | undefined {
  const w = lwwWinner(s.store)
  return w == null ? undefined : { value: w.value.value, ts: w.value.ts, replica: w.dot.replica }
}
