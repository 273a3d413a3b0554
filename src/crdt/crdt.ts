/**
 * The union of every CRDT state and type-dispatching join / value / bottom.
 */
import { bottomCausal, causalEquals, isBottomCausal, joinCausal, valueTypeOf } from './causal.js'
import type { CausalCrdt } from './causal.js'
import { CrdtTypeMismatchError } from './errors.js'
import * as gcounter from './gcounter.js'
import type { GCounter } from './gcounter.js'
import * as lww from './lww-register.js'
import type { LWWRegister } from './lww-register.js'
import * as pncounter from './pncounter.js'
import type { PNCounter } from './pncounter.js'
import { storeValue, valueTypeName } from './stores.js'
import type { StoreValue } from './stores.js'

export type Crdt = GCounter | PNCounter | LWWRegister | CausalCrdt
export type CrdtType = Crdt['type']
export type CrdtValue = StoreValue

export function isCausal (s: Crdt): s is CausalCrdt {
  return s.type !== 'gcounter' && s.type !== 'pncounter' && s.type !== 'lwwregister'
}

/** Full type name, e.g. `ormap<ccounter>`. */
export function typeName (s: Crdt): string {
  return isCausal(s) ? valueTypeName(valueTypeOf(s)) : s.type
}

/** Least upper bound of two states (or deltas, or delta-groups) of the same type. */
export function join<T extends Crdt> (a: T, b: T): T {
  if (a.type !== b.type) throw new CrdtTypeMismatchError(typeName(a), typeName(b))
  switch (a.type) {
    case 'gcounter': return gcounter.join(a, b as GCounter) as T
    case 'pncounter': return pncounter.join(a, b as PNCounter) as T
    case 'lwwregister': return lww.join(a, b as LWWRegister) as T
    default: return joinCausal(a, b as CausalCrdt) as T
  }
}

/** Join of many deltas: a delta-group. */
export function joinAll<T extends Crdt> (first: T, ...rest: T[]): T {
  let acc = first
  for (const d of rest) acc = join(acc, d)
  return acc
}

/** The bottom state of the same type as `s`. */
export function bottomOf<T extends Crdt> (s: T): T {
  switch (s.type) {
    case 'gcounter': return gcounter.bottom() as T
    case 'pncounter': return pncounter.bottom() as T
    case 'lwwregister': return lww.bottom() as T
    default: return bottomCausal(valueTypeOf(s)) as T
  }
}

export function isBottom (s: Crdt): boolean {
  switch (s.type) {
    case 'gcounter': return gcounter.isBottom(s)
    case 'pncounter': return pncounter.isBottom(s)
    case 'lwwregister': return lww.isBottom(s)
    default: return isBottomCausal(s)
  }
}

export function value (s: Crdt): CrdtValue {
  switch (s.type) {
    case 'gcounter': return gcounter.value(s)
    case 'pncounter': return pncounter.value(s)
    case 'lwwregister': return lww.value(s)
    default: return storeValue(valueTypeOf(s), s.store)
  }
}

/** Structural equality of two states. */
export function equals (a: Crdt, b: Crdt): boolean {
  if (a.type !== b.type) return false
  switch (a.type) {
    case 'gcounter': return gcounter.equals(a, b as GCounter)
    case 'pncounter': return pncounter.equals(a, b as PNCounter)
    case 'lwwregister': return lww.equals(a, b as LWWRegister)
    default: return causalEquals(a, b as CausalCrdt)
  }
}
