/**
 * Last-writer-wins register. The caller passes the timestamp (e.g. from
 * hlc.ts); ties break deterministically on the replica id, then on the
 * value, so join is a true least upper bound.
 */
import { assertAtom, compareAtoms, compareStrings } from './atom.js'
import type { Atom } from './atom.js'
import { assertReplicaId } from './dot.js'
import type { ReplicaId } from './dot.js'
import { assertHlc, compareHlc } from './hlc.js'
import type { Hlc } from './hlc.js'

export interface LwwEntry {
  readonly ts: Hlc
  readonly replica: ReplicaId
  readonly value: Atom
}

export interface LWWRegister {
  readonly type: 'lwwregister'
  readonly entry: LwwEntry | null
}

export function bottom (): LWWRegister {
  return { type: 'lwwregister', entry: null }
}

export function isBottom (s: LWWRegister): boolean {
  return s.entry == null
}

export function compareEntries (a: LwwEntry, b: LwwEntry): number {
  return compareHlc(a.ts, b.ts) || compareStrings(a.replica, b.replica) || compareAtoms(a.value, b.value)
}

/** Delta-mutator: write `value` at time `ts`. The delta is the new entry (it may lose to the current one). */
export function set (_s: LWWRegister, replica: ReplicaId, ts: Hlc, value: Atom): LWWRegister {
  assertReplicaId(replica)
  assertHlc(ts, 'ts')
  assertAtom(value, 'value')
  return { type: 'lwwregister', entry: { ts, replica, value } }
}

export function join (a: LWWRegister, b: LWWRegister): LWWRegister {
  if (a.entry == null) return b
  if (b.entry == null) return a
  return compareEntries(a.entry, b.entry) >= 0 ? a : b
}

export function value (s: LWWRegister): Atom | undefined {
  return s.entry?.value
}

export function equals (a: LWWRegister, b: LWWRegister): boolean {
  if (a.entry == null || b.entry == null) return a.entry === b.entry
  return compareEntries(a.entry, b.entry) === 0
}
