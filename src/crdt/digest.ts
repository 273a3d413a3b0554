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
import { contextContains, contextDifference, contextDifferenceCount, contextSize, contextFromDots, joinContexts } from './causal-context.js'
import type { CausalContext } from './causal-context.js'
import { makeCausal, valueTypeOf } from './causal.js'
import type { CausalCrdt } from './causal.js'
import * as lww from './lww-register.js'
import type { LwwEntry } from './lww-register.js'
import { bottomOf, isBottom, isCausal, typeName } from './crdt.js'
import type { Crdt } from './crdt.js'
import { compareDots } from './dot.js'
import type { Dot, ReplicaId } from './dot.js'
import { CrdtTypeMismatchError } from './errors.js'
import * as gcounter from './gcounter.js'
import * as pncounter from './pncounter.js'
import { filterStore, forEachDot, storeDots, valueTypeName, valueTypesEqual } from './stores.js'
import type { DotSet, Store, ValueType } from './stores.js'

export type Digest =
  | { readonly type: 'gcounter', readonly versions: ReadonlyMap<ReplicaId, number> }
  | { readonly type: 'pncounter', readonly p: ReadonlyMap<ReplicaId, number>, readonly n: ReadonlyMap<ReplicaId, number> }
  /** A register's digest is its (single) entry: as small as any summary, and exact. */
  | { readonly type: 'lwwregister', readonly entry: LwwEntry | null }
  | { readonly type: 'causal', readonly valueType: ValueType, readonly ctx: CausalContext, readonly live: DotSet }

/** Summary of a state for anti-entropy. */
export function digest (s: Crdt): Digest {
  switch (s.type) {
    case 'gcounter': return { type: 'gcounter', versions: s.counts }
    case 'pncounter': return { type: 'pncounter', p: s.p, n: s.n }
    case 'lwwregister': return { type: 'lwwregister', entry: s.entry }
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

/** How many events `local` has seen that `remote` has not (cheap; for lag and staleness accounting). */
export function missingCount (local: CausalContext, remote: CausalContext): number {
  return contextDifferenceCount(local, remote)
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
      const other = (remote as Extract<Digest, { type: 'lwwregister' }>).entry
      if (s.entry == null || other == null) return s
      return (lww.compareEntries(s.entry, other) > 0 ? s : bottomOf(s)) as T
    }
    default: {
      const r = remote as Extract<Digest, { type: 'causal' }>
      return causalDelta(s, r.ctx, (visit) => { for (const d of r.live) visit(d) }) as T
    }
  }
}

/**
 * Delta of causal state `s` for a replica with context `remoteCtx` whose
 * live dots `forEachRemoteLive` enumerates:
 *   store: the entries whose dots the remote has not seen;
 *   ctx:   the dots the remote has not seen, plus the remote's live dots
 *          that `s` has removed (so the remote removes them too).
 */
function causalDelta (s: CausalCrdt, remoteCtx: CausalContext, forEachRemoteLive: (visit: (d: Dot) => void) => void): CausalCrdt {
  const t = valueTypeOf(s)
  const store = filterStore(t, s.store, (d) => !contextContains(remoteCtx, d))
  const live = liveIndex(t, s.store)
  const removed: Dot[] = []
  forEachRemoteLive((d) => {
    if (contextContains(s.ctx, d) && !(live.get(d.replica)?.has(d.counter) ?? false)) removed.push(d)
  })
  const ctx = joinContexts(contextDifference(s.ctx, remoteCtx), contextFromDots(removed))
  return makeCausal(t, ctx, store)
}

function liveIndex (t: ValueType, store: Store): Map<ReplicaId, Set<number>> {
  const out = new Map<ReplicaId, Set<number>>()
  forEachDot(t, store, (d) => {
    let set = out.get(d.replica)
    if (set == null) { set = new Set(); out.set(d.replica, set) }
    set.add(d.counter)
  })
  return out
}

/**
 * Redundancy removal (Enes et al., RR): the part of a received delta that
 * actually inflates `state`; bottom when the delta brings nothing new.
 */
export function extractNew<T extends Crdt> (delta: T, state: T): T {
  if (!isCausal(delta) || !isCausal(state)) return deltaFor(delta, digest(state))
  assertCompatible(delta, digest(state as Crdt) as Digest)
  // Same as deltaFor(delta, digest(state)) without sorting the state's live dots.
  const t = valueTypeOf(state)
  return causalDelta(delta, state.ctx, (visit) => forEachDot(t, state.store, visit)) as T
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
   * fraction of the state's entries (live entries plus context ranges;
   * default 0.5): a large gap costs about the same either way, and the
   * full state is simpler to apply and to persist.
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
  const ratio = options.maxDeltaRatio ?? 0.5
  const w = weight(s)
  const delta = deltaFor(s, remote)
  if (isEmptyDelta(delta)) return { kind: 'none' }
  if (w > 0 && weight(delta) > ratio * w) return { kind: 'full', state: s }
  return { kind: 'delta', delta }
}

/** A delta that changes nothing when joined (no entries, empty context). */
export function isEmptyDelta (d: Crdt): boolean {
  return isBottom(d)
}
