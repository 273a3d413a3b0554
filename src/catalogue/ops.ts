/**
 * Local writes as pure functions: a list of ops (set a record, remove a
 * record) becomes one delta of the catalogue's ORMap, every set stamped
 * with the same HLC reading and written by `writer`. The catalogue class
 * persists and ships the delta; tests use this to simulate replicas.
 */
import { clwwRegister, join, ormap } from '../crdt/index.js'
import type { CLWWRegister, Hlc, ORMap } from '../crdt/index.js'

export type Op = { key: string, value: object } | { key: string, remove: true }

export function emptyState (): ORMap {
  return ormap.bottom({ kind: 'clwwregister' })
}

/** the new state and the delta to ship (undefined when there were no ops) */
export function applyOps (state: ORMap, writer: string, ts: Hlc, ops: readonly Op[]): { state: ORMap, delta?: ORMap } {
  let delta: ORMap | undefined
  let s = state
  for (const op of ops) {
    const d = 'remove' in op
      ? ormap.remove(s, op.key)
      : ormap.update<CLWWRegister>(s, op.key, (r) => clwwRegister.set(r, writer, ts, JSON.stringify(op.value)))
    s = join(s, d)
    delta = delta == null ? d : join(delta, d)
  }
  return delta == null ? { state: s } : { state: s, delta }
}
