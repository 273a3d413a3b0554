/**
 * Dot stores (Almeida et al., section 6): the payloads of causal CRDTs.
 * A causal CRDT is a pair (store, context); every dot in the store is in
 * the context, and a dot that is in a context but not in the store has
 * been removed. Joins follow the paper:
 *
 *   DotSet:  (s ∩ s') ∪ (s \ c') ∪ (s' \ c)
 *   DotFun:  same on the domain, values of shared dots are immutable
 *   DotMap:  pointwise join of the embedded stores, bottom entries dropped
 *
 * Which store a value uses is named by its ValueType, which also lets an
 * ORMap embed any causal type (including nested maps) under one shared
 * causal context.
 */
import { compareAtoms, compareStrings } from './atom.js'
import type { Atom } from './atom.js'
import { contextContains } from './causal-context.js'
import type { CausalContext } from './causal-context.js'
import { compareDots } from './dot.js'
import type { Dot } from './dot.js'
import { compareHlc } from './hlc.js'
import type { Hlc } from './hlc.js'

export interface DotEntry<V> {
  readonly dot: Dot
  readonly value: V
}

/** Dots sorted by compareDots, no duplicates. */
export type DotSet = readonly Dot[]
/** Entries sorted by dot, no duplicate dots. */
export type DotFun<V> = ReadonlyArray<DotEntry<V>>

export interface LwwValue {
  readonly ts: Hlc
  readonly value: Atom
}

export interface SetEntry {
  readonly element: Atom
  readonly dots: DotSet
}

/** ORSet payload: atomKey(element) -> entry with a non-empty dot set. */
export type ORSetStore = ReadonlyMap<string, SetEntry>
/** ORMap payload: key -> non-bottom embedded store. */
export type ORMapStore = ReadonlyMap<string, Store>

export type Store = DotFun<number> | DotFun<Atom> | DotFun<LwwValue> | ORSetStore | ORMapStore

/** The causal types that can live at the top level or inside an ORMap. */
export type ValueType =
  | { readonly kind: 'ccounter' }
  | { readonly kind: 'mvregister' }
  | { readonly kind: 'clwwregister' }
  | { readonly kind: 'alog' }
  | { readonly kind: 'orset' }
  | { readonly kind: 'ormap', readonly value: ValueType }

export const VALUE_KINDS = ['ccounter', 'mvregister', 'clwwregister', 'orset', 'ormap', 'alog'] as const

export function valueTypesEqual (a: ValueType, b: ValueType): boolean {
  if (a.kind !== b.kind) return false
  if (a.kind === 'ormap' && b.kind === 'ormap') return valueTypesEqual(a.value, b.value)
  return true
}

export function valueTypeName (t: ValueType): string {
  return t.kind === 'ormap' ? `ormap<${valueTypeName(t.value)}>` : t.kind
}

// ---------------------------------------------------------------- dot sets / funs

/** The dots (or entries) not covered by `ctx`; the same array when none is covered. */
export function survivors<E> (xs: readonly E[], ctx: CausalContext, dotOf: (e: E) => Dot): readonly E[] {
  for (let i = 0; i < xs.length; i++) {
    if (contextContains(ctx, dotOf(xs[i]))) {
      const out = xs.slice(0, i)
      for (let j = i + 1; j < xs.length; j++) if (!contextContains(ctx, dotOf(xs[j]))) out.push(xs[j])
      return out
    }
  }
  return xs
}

const ID = (d: Dot): Dot => d
const ENTRY_DOT = (e: DotEntry<unknown>): Dot => e.dot

export function joinDotSet (s1: DotSet, c1: CausalContext, s2: DotSet, c2: CausalContext): DotSet {
  if (s2.length === 0) return survivors(s1, c2, ID)
  if (s1.length === 0) return survivors(s2, c1, ID)
  const out: Dot[] = []
  let i = 0
  let j = 0
  while (i < s1.length || j < s2.length) {
    const cmp = i >= s1.length ? 1 : j >= s2.length ? -1 : compareDots(s1[i], s2[j])
    if (cmp === 0) { out.push(s1[i]); i++; j++ } else if (cmp < 0) {
      if (!contextContains(c2, s1[i])) out.push(s1[i])
      i++
    } else {
      if (!contextContains(c1, s2[j])) out.push(s2[j])
      j++
    }
  }
  return out
}

export function joinDotFun<V> (f1: DotFun<V>, c1: CausalContext, f2: DotFun<V>, c2: CausalContext, cmp: (a: V, b: V) => number): DotFun<V> {
  if (f2.length === 0) return survivors(f1, c2, ENTRY_DOT)
  if (f1.length === 0) return survivors(f2, c1, ENTRY_DOT)
  const out: Array<DotEntry<V>> = []
  let i = 0
  let j = 0
  while (i < f1.length || j < f2.length) {
    const c = i >= f1.length ? 1 : j >= f2.length ? -1 : compareDots(f1[i].dot, f2[j].dot)
    if (c === 0) {
      // A dot names one immutable value; if a faulty peer disagrees, pick deterministically.
      out.push(cmp(f1[i].value, f2[j].value) <= 0 ? f1[i] : f2[j])
      i++; j++
    } else if (c < 0) {
      if (!contextContains(c2, f1[i].dot)) out.push(f1[i])
      i++
    } else {
      if (!contextContains(c1, f2[j].dot)) out.push(f2[j])
      j++
    }
  }
  return out
}

function compareNumbers (a: number, b: number): number { return a - b }
export function compareLwwValues (a: LwwValue, b: LwwValue): number {
  return compareHlc(a.ts, b.ts) || compareAtoms(a.value, b.value)
}

// ---------------------------------------------------------------- generic dispatch

const EMPTY_FUN: DotFun<never> = Object.freeze([])
const EMPTY_DOTS: DotSet = Object.freeze([])
const EMPTY_MAP: ReadonlyMap<string, never> = new Map<string, never>()

export function bottomStore (t: ValueType): Store {
  return t.kind === 'orset' || t.kind === 'ormap' ? EMPTY_MAP : EMPTY_FUN
}

export function isBottomStore (t: ValueType, s: Store): boolean {
  return t.kind === 'orset' || t.kind === 'ormap' ? (s as ReadonlyMap<string, unknown>).size === 0 : (s as DotFun<unknown>).length === 0
}

export function joinStores (t: ValueType, s1: Store, c1: CausalContext, s2: Store, c2: CausalContext): Store {
  switch (t.kind) {
    case 'ccounter': return joinDotFun(s1 as DotFun<number>, c1, s2 as DotFun<number>, c2, compareNumbers)
    case 'mvregister': return joinDotFun(s1 as DotFun<Atom>, c1, s2 as DotFun<Atom>, c2, compareAtoms)
    case 'clwwregister':
    case 'alog': return joinDotFun(s1 as DotFun<LwwValue>, c1, s2 as DotFun<LwwValue>, c2, compareLwwValues)
    case 'orset': {
      const a = s1 as ORSetStore
      const b = s2 as ORSetStore
      const out = new Map<string, SetEntry>()
      for (const [k, e] of a) {
        const other = b.get(k)
        const dots = joinDotSet(e.dots, c1, other?.dots ?? EMPTY_DOTS, c2)
        if (dots.length > 0) out.set(k, dots === e.dots ? e : { element: e.element, dots })
      }
      for (const [k, e] of b) {
        if (a.has(k)) continue
        const dots = joinDotSet(EMPTY_DOTS, c1, e.dots, c2)
        if (dots.length > 0) out.set(k, dots === e.dots ? e : { element: e.element, dots })
      }
      return out
    }
    case 'ormap': {
      const a = s1 as ORMapStore
      const b = s2 as ORMapStore
      const inner = t.value
      const bottom = bottomStore(inner)
      const out = new Map<string, Store>()
      for (const [k, v] of a) {
        const j = joinStores(inner, v, c1, b.get(k) ?? bottom, c2)
        if (!isBottomStore(inner, j)) out.set(k, j)
      }
      for (const [k, v] of b) {
        if (a.has(k)) continue
        const j = joinStores(inner, bottom, c1, v, c2)
        if (!isBottomStore(inner, j)) out.set(k, j)
      }
      return out
    }
  }
}

/** Calls `visit` for every dot in the store. */
export function forEachDot (t: ValueType, s: Store, visit: (d: Dot) => void): void {
  switch (t.kind) {
    case 'ccounter':
    case 'mvregister':
    case 'clwwregister':
    case 'alog':
      for (const e of s as DotFun<unknown>) visit(e.dot)
      return
    case 'orset':
      for (const e of (s as ORSetStore).values()) for (const d of e.dots) visit(d)
      return
    case 'ormap':
      for (const v of (s as ORMapStore).values()) forEachDot(t.value, v, visit)
  }
}

export function storeDots (t: ValueType, s: Store): Dot[] {
  const out: Dot[] = []
  forEachDot(t, s, (d) => out.push(d))
  return out
}

/** The store restricted to the dots for which `keep` holds (bottom entries dropped). */
export function filterStore (t: ValueType, s: Store, keep: (d: Dot) => boolean): Store {
  switch (t.kind) {
    case 'ccounter':
    case 'mvregister':
    case 'clwwregister':
    case 'alog':
      return (s as DotFun<unknown>).filter((e) => keep(e.dot)) as Store
    case 'orset': {
      const out = new Map<string, SetEntry>()
      for (const [k, e] of s as ORSetStore) {
        const dots = e.dots.filter(keep)
        if (dots.length > 0) out.set(k, dots.length === e.dots.length ? e : { element: e.element, dots })
      }
      return out
    }
    case 'ormap': {
      const out = new Map<string, Store>()
      for (const [k, v] of s as ORMapStore) {
        const f = filterStore(t.value, v, keep)
        if (!isBottomStore(t.value, f)) out.set(k, f)
      }
      return out
    }
  }
}

// ---------------------------------------------------------------- values

export type StoreValue = number | Atom[] | Atom | undefined | ReadonlyMap<string, StoreValue>

export function ccounterValue (s: DotFun<number>): number {
  let sum = 0
  for (const e of s) sum += e.value
  return sum
}

export function mvValue (s: DotFun<Atom>): Atom[] {
  const vals = s.map((e) => e.value).sort(compareAtoms)
  return vals.filter((v, i) => i === 0 || compareAtoms(vals[i - 1], v) !== 0)
}

/** The winning entry: greatest timestamp, then greatest replica id, then greatest value. */
export function lwwWinner (s: DotFun<LwwValue>): DotEntry<LwwValue> | undefined {
  let best: DotEntry<LwwValue> | undefined
  for (const e of s) {
    if (best == null) { best = e; continue }
    const c = compareHlc(e.value.ts, best.value.ts) || compareStrings(e.dot.replica, best.dot.replica) || compareAtoms(e.value.value, best.value.value)
    if (c > 0) best = e
  }
  return best
}

/** Entries of an append-only log in its total order: (HLC, replica id, dot counter). */
export function logEntries (s: DotFun<LwwValue>): Array<DotEntry<LwwValue>> {
  return [...s].sort(compareLogEntries)
}

export function compareLogEntries (a: DotEntry<LwwValue>, b: DotEntry<LwwValue>): number {
  return compareHlc(a.value.ts, b.value.ts) || compareStrings(a.dot.replica, b.dot.replica) || a.dot.counter - b.dot.counter
}

export function orsetValue (s: ORSetStore): Atom[] {
  return [...s.values()].map((e) => e.element).sort(compareAtoms)
}

export function storeValue (t: ValueType, s: Store): StoreValue {
  switch (t.kind) {
    case 'ccounter': return ccounterValue(s as DotFun<number>)
    case 'mvregister': return mvValue(s as DotFun<Atom>)
    case 'clwwregister': return lwwWinner(s as DotFun<LwwValue>)?.value.value
    case 'alog': return logEntries(s as DotFun<LwwValue>).map((e) => e.value.value)
    case 'orset': return orsetValue(s as ORSetStore)
    case 'ormap': {
      const m = s as ORMapStore
      const keys = [...m.keys()].sort(compareStrings)
      return new Map(keys.map((k) => [k, storeValue(t.value, m.get(k) as Store)]))
    }
  }
}
