/**
 * Anti-entropy helpers (pure). Two replicas exchange digests, each sends the
 * other exactly what it is missing (`deltaFor`), or the full state when the
 * gap is large (`planSync`).
 *
 * For causal types the digest is the causal context plus the live dots.
 * The context alone cannot tell "the remote removed d" from "the remote
 * still has d", so the live dots let the sender ship removals of dots the
 * remote still holds, and nothing else: its size is O(live entries), never
 * O(history).
 */
import { contextContains, contextDifference, contextSize, contextFromDots, joinContexts } from './causal-context.js'
import type { CausalContext } from './causal-context.js'
import { makeCausal, valueTypeOf } from './causal.js'
import { bottomOf, isBottom, isCausal, typeName } from './crdt.js'
import type { Crdt } from './crdt.js'
import { compareDots } from './dot.js'
import type { Dot, ReplicaId } from './dot.js'
import { CrdtTypeMismatchError } from './errors.js'
import * as gcounter from './gcounter.js'
import { compareHlc } from './hlc.js'
import type { Hlc } from './hlc.js'
import { compareStrings } from './atom.js'
import * as pncounter from './pncounter.js'
import { filterStore, forEachDot, storeDots, valueTypeName, valueTypesEqual } from './stores.js'
import type { DotSet, ValueType } from './stores.js'

export type Digest =
  | { readonly type: 'gcounter', readonly versions: ReadonlyMap<ReplicaId, number> }
  | { readonly type: 'pncounter', readonly p: ReadonlyMap<ReplicaId, number>, readonly n: ReadonlyMap<ReplicaId, number> }
  | { readonly type: 'lwwregister', readonly stamp: { readonly ts: Hlc, readonly replica: ReplicaId } | null }
  | { readonly type: 'causal', readonly valueType: ValueType, readonly ctx: CausalContext, readonly live: DotSet }

/** Summary of a state for anti-entropy. */
export function digest (s: Crdt): Digest {
  switch (s.type) {
    case 'gcounter': return { type: 'gcounter', versions: s.counts }
    case 'pncounter': return { type: 'pncounter', p: s.p, n: s.n }
    case 'lwwregister': return { type: 'lwwregister', stamp: s.entry == null ? null : { ts: s.entry.ts, replica: s.entry.replica } }
    default: {
      const t = valueTypeOf(s)
      return { type: 'causal', valueType: t, ctx: s.ctx, live: storeDots(t, s.store).sort(compareDots) }
    }
  }
}

function digestTypeName (d: Digest): string {
  return d.type === 'causal' ? valueTypeName(d.valueType) : d.type
}

function assertCompatible (s: Crdt, d: Digest): void {
  const ok = isCausal(s) ? d.type === 'causal' && valueTypesEqual(valueTypeOf(s), d.valueType) : s.type === d.type
  if (!ok) throw new CrdtTypeMismatchError(typeName(s), digestTypeName(d))
}

/** The dots `local` has seen that `remote` has not. */
export function missingFrom (local: CausalContext, remote: CausalContext): CausalContext {
  return contextDifference(local, remote)
}

function dotId (d: Dot): string {
  return `${d.counter}\u0000${d.replica}`
}

/**
 * The smallest delta that brings a replica with digest `remote` up to date
 * with `s`: join(remoteState, deltaFor(s, digest(remoteState))) equals
 * join(remoteState, s). Bottom when the remote is missing nothing.
 */
export function deltaFor<T extends Crdt> (s: T, remote: Digest): T {
  assertCompatible(s, remote)
  switch (s.type) {
    case 'gcounter': return gcounter.missing(s, (remote as Extract<Digest, { type: 'gcounter' }>).versions) as T
    case 'pncounter': return pncounter.missing(s, remote as Extract<Digest, { type: 'pncounter' }>) as T
    case 'lwwregister': {
      const stamp = (remote as { stamp: { ts: Hlc, replica: string } | null }).stamp
      if (s.entry == null) return s
      if (stamp == null) return s
      const c = compareHlc(s.entry.ts, stamp.ts) || compareStrings(s.entry.replica, stamp.replica)
      return (c > 0 ? s : bottomOf(s)) as T
    }
    default: {
      const r = remote as Extract<Digest, { type: 'causal' }>
      const t = valueTypeOf(s)
      const store = filterStore(t, s.store, (d) => !contextContains(r.ctx, d))
      const live = new Set<string>()
      forEachDot(t, s.store, (d) => live.add(dotId(d)))
      const removed = r.live.filter((d) => contextContains(s.ctx, d) && !live.has(dotId(d)))
      const ctx = joinContexts(contextDifference(s.ctx, r.ctx), contextFromDots(removed))
      return makeCausal(t, ctx, store) as T
    }
  }
}

/**
 * Redundancy removal (Enes et al., RR): the part of a received delta that
 * actually inflates `state`; bottom when the delta brings nothing new.
 */
export function extractNew<T extends Crdt> (delta: T, state: T): T {
  return deltaFor(delta, digest(state))
}

/** True when `s` holds something the replica with digest `remote` lacks. */
export function hasNewFor (s: Crdt, remote: Digest): boolean {
  return !isEmptyDelta(deltaFor(s, remote))
}

export type SyncPlan<T extends Crdt> =
  | { readonly kind: 'none' }
  | { readonly kind: 'delta', readonly delta: T }
  | { readonly kind: 'full', readonly state: T }

export interface SyncPlanOptions {
  /**
   * Send the full state instead when the delta carries more than this
   * fraction of the state's entries (default 0.5): a large gap costs the
   * same either way and the full state is simpler to apply.
   */
  readonly maxDeltaRatio?: number
}

function weight (s: Crdt): number {
  switch (s.type) {
    case 'gcounter': return s.counts.size
    case 'pncounter': return s.p.size + s.n.size
    case 'lwwregister': return s.entry == null ? 0 : 1
    default: return storeDots(valueTypeOf(s), s.store).length + contextSize(s.ctx)
  }
}

/** What to send to a replica whose digest is `remote`. */
export function planSync<T extends Crdt> (s: T, remote: Digest, options: SyncPlanOptions = {}): SyncPlan<T> {
  const delta = deltaFor(s, remote)
  if (isEmptyDelta(delta)) return { kind: 'none' }
  const ratio = options.maxDeltaRatio ?? 0.5
  const w = weight(s)
  if (w > 0 && weight(delta) > ratio * w) return { kind: 'full', state: s }
  return { kind: 'delta', delta }
}

/** A delta that changes nothing when joined (no entries, empty context). */
export function isEmptyDelta (d: Crdt): boolean {
  return isBottom(d)
}
