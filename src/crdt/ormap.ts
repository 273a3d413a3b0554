/**
 * Observed-remove map of embedded causal CRDTs (Almeida et al., section 7):
 * keys map to dot stores that share the map's single causal context.
 * Updating a key is the embedded type's delta-mutator run on a view of that
 * key; removing a key puts its dots in the context (no tombstones), so a
 * concurrent update to the key survives with only its new dots.
 */
import { compareStrings } from './atom.js'
import { contextFromDots } from './causal-context.js'
import { bottomCausal, clearCausal, isBottomCausal, joinCausal, makeCausal, valueTypeOf } from './causal.js'
import type { CausalCrdt, ORMap } from './causal.js'
import { CrdtArgumentError, CrdtTypeMismatchError } from './errors.js'
import { bottomStore, isBottomStore, storeDots, storeValue, valueTypeName, valueTypesEqual, VALUE_KINDS } from './stores.js'
import type { StoreValue, ValueType } from './stores.js'

export type { ORMap }

export const MAX_KEY_LENGTH = 65_536

export function assertValueType (t: unknown, field = 'valueType', depth = 0): asserts t is ValueType {
  const v = t as ValueType
  if (depth > 16) throw new CrdtArgumentError(field, 'nested too deeply')
  if (v == null || typeof v !== 'object' || !(VALUE_KINDS as readonly string[]).includes(v.kind)) {
    throw new CrdtArgumentError(field, `kind must be one of ${VALUE_KINDS.join(', ')}`)
  }
  if (v.kind === 'ormap') assertValueType(v.value, `${field}.value`, depth + 1)
}

function assertKey (key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length > MAX_KEY_LENGTH) throw new CrdtArgumentError('key', `must be a string of at most ${MAX_KEY_LENGTH} characters`)
}

export function bottom (valueType: ValueType): ORMap {
  assertValueType(valueType)
  return bottomCausal({ kind: 'ormap', value: valueType }) as ORMap
}

export const isBottom = isBottomCausal as (s: ORMap) => boolean
export const join = joinCausal<ORMap>

/** The value at `key` as a standalone causal state (sharing the map's context); bottom store if absent. */
export function get<V extends CausalCrdt = CausalCrdt> (m: ORMap, key: string): V {
  return makeCausal(m.valueType, m.ctx, m.store.get(key) ?? bottomStore(m.valueType)) as V
}

export function has (m: ORMap, key: string): boolean {
  return m.store.has(key)
}

export function keys (m: ORMap): string[] {
  return [...m.store.keys()].sort(compareStrings)
}

/**
 * Delta-mutator: apply an embedded delta-mutator to the value at `key`.
 * `mutate` receives the current value and returns its delta (e.g.
 * `(v) => ccounter.add(v, replica, 5)`).
 */
export function update<V extends CausalCrdt> (m: ORMap, key: string, mutate: (current: V) => V): ORMap {
  assertKey(key)
  const d = mutate(get<V>(m, key))
  const t = valueTypeOf(d)
  if (!valueTypesEqual(t, m.valueType)) throw new CrdtTypeMismatchError(valueTypeName(m.valueType), valueTypeName(t))
  const store = isBottomStore(t, d.store) ? new Map() : new Map([[key, d.store]])
  return { type: 'ormap', valueType: m.valueType, ctx: d.ctx, store }
}

/** Delta-mutator: remove `key` (the updates observed so far). */
export function remove (m: ORMap, key: string): ORMap {
  assertKey(key)
  const s = m.store.get(key)
  const dots = s == null ? [] : storeDots(m.valueType, s)
  return { type: 'ormap', valueType: m.valueType, ctx: contextFromDots(dots), store: new Map() }
}

export function clear (m: ORMap): ORMap {
  return clearCausal(m)
}

/** key -> embedded value, keys sorted. */
export function value (m: ORMap): ReadonlyMap<string, StoreValue> {
  return storeValue({ kind: 'ormap', value: m.valueType }, m.store) as ReadonlyMap<string, StoreValue>
}

