/**
 * Causal CRDTs: a dot store plus a causal context. The same shapes are used
 * standalone and embedded in an ORMap (where they share the map's context).
 */
import type { Atom } from './atom.js'
import { contextFromDots, contextsEqual, emptyContext, joinContexts } from './causal-context.js'
import type { CausalContext } from './causal-context.js'
import { compareDots } from './dot.js'
import { CrdtTypeMismatchError } from './errors.js'
import { bottomStore, isBottomStore, joinStores, storeDots, valueTypeName, valueTypesEqual } from './stores.js'
import type { DotFun, LwwValue, ORMapStore, ORSetStore, Store, ValueType } from './stores.js'

export interface CCounter {
  readonly type: 'ccounter'
  readonly ctx: CausalContext
  /**
   * dot -> net contribution of its replica since that replica's last observed
   * reset. A replica normally has one live dot; a second appears only when
   * the holder has not yet seen a reset that removed the older one, and the
   * sum is still exact.
   */
  readonly store: DotFun<number>
}

export interface MVRegister {
  readonly type: 'mvregister'
  readonly ctx: CausalContext
  readonly store: DotFun<Atom>
}

export interface CLWWRegister {
  readonly type: 'clwwregister'
  readonly ctx: CausalContext
  readonly store: DotFun<LwwValue>
}

/** Append-only log: dot -> (HLC, payload); ordered by (HLC, replica, counter). */
export interface ALog {
  readonly type: 'alog'
  readonly ctx: CausalContext
  readonly store: DotFun<LwwValue>
}

export interface ORSet {
  readonly type: 'orset'
  readonly ctx: CausalContext
  readonly store: ORSetStore
}

export interface ORMap {
  readonly type: 'ormap'
  /** Type of every value in the map. */
  readonly valueType: ValueType
  readonly ctx: CausalContext
  readonly store: ORMapStore
}

export type CausalCrdt = CCounter | MVRegister | CLWWRegister | ORSet | ORMap | ALog

/** The ValueType describing a causal state (its own type, not its values'). */
export function valueTypeOf (s: CausalCrdt): ValueType {
  return s.type === 'ormap' ? { kind: 'ormap', value: s.valueType } : { kind: s.type }
}

/** Assemble a causal state of type `t` from parts. */
export function makeCausal (t: ValueType, ctx: CausalContext, store: Store): CausalCrdt {
  if (t.kind === 'ormap') return { type: 'ormap', valueType: t.value, ctx, store: store as ORMapStore }
  return { type: t.kind, ctx, store } as CausalCrdt
}

export function bottomCausal (t: ValueType): CausalCrdt {
  return makeCausal(t, emptyContext(), bottomStore(t))
}

export function assertSameType (a: CausalCrdt, b: CausalCrdt): void {
  const ta = valueTypeOf(a)
  const tb = valueTypeOf(b)
  if (!valueTypesEqual(ta, tb)) throw new CrdtTypeMismatchError(valueTypeName(ta), valueTypeName(tb))
}

export function joinCausal<T extends CausalCrdt> (a: T, b: T): T {
  assertSameType(a, b)
  const t = valueTypeOf(a)
  return makeCausal(t, joinContexts(a.ctx, b.ctx), joinStores(t, a.store, a.ctx, b.store, b.ctx)) as T
}

/** Bottom = nothing seen (empty context); a state whose values were all removed is not bottom. */
export function isBottomCausal (s: CausalCrdt): boolean {
  return s.ctx.vv.size === 0 && s.ctx.cloud.size === 0 && isBottomStore(valueTypeOf(s), s.store)
}

/** A delta that removes everything currently in `s` (observed-remove). */
export function clearCausal<T extends CausalCrdt> (s: T): T {
  const t = valueTypeOf(s)
  return makeCausal(t, contextFromDots(storeDots(t, s.store)), bottomStore(t)) as T
}

/** Structural equality (same dots, values and context). */
export function causalEquals (a: CausalCrdt, b: CausalCrdt): boolean {
  const ta = valueTypeOf(a)
  if (!valueTypesEqual(ta, valueTypeOf(b))) return false
  if (!contextsEqual(a.ctx, b.ctx)) return false
  return storesEqual(ta, a.store, b.store)
}

function storesEqual (t: ValueType, a: Store, b: Store): boolean {
  switch (t.kind) {
    case 'ccounter':
    case 'mvregister':
    case 'clwwregister':
    case 'alog': {
      const fa = [...(a as DotFun<unknown>)].sort((x, y) => compareDots(x.dot, y.dot))
      const fb = [...(b as DotFun<unknown>)].sort((x, y) => compareDots(x.dot, y.dot))
      if (fa.length !== fb.length) return false
      return fa.every((e, i) => compareDots(e.dot, fb[i].dot) === 0 && JSON.stringify(plain(e.value)) === JSON.stringify(plain(fb[i].value)))
    }
    case 'orset': {
      const ma = a as ORSetStore
      const mb = b as ORSetStore
      if (ma.size !== mb.size) return false
      for (const [k, e] of ma) {
        const o = mb.get(k)
        if (o == null || o.dots.length !== e.dots.length) return false
        if (!e.dots.every((d, i) => compareDots(d, o.dots[i]) === 0)) return false
      }
      return true
    }
    case 'ormap': {
      const ma = a as ORMapStore
      const mb = b as ORMapStore
      if (ma.size !== mb.size) return false
      for (const [k, v] of ma) {
        const o = mb.get(k)
        if (o == null || !storesEqual(t.value, v, o)) return false
      }
      return true
    }
  }
}

function plain (v: unknown): unknown {
  if (v instanceof Uint8Array) return { bytes: [...v] }
  if (v != null && typeof v === 'object') {
    const o = v as Record<string, unknown>
    return Object.fromEntries(Object.keys(o).sort().map((k) => [k, plain(o[k])]))
  }
  return v
}
