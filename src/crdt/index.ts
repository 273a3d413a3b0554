/**
 * dcis-mesh delta-state CRDT library (pure, deterministic, no I/O).
 *
 * Types: GCounter, PNCounter, LWWRegister (plain state), and the causal
 * types CCounter, MVRegister, CLWWRegister, ORSet (add-wins, no
 * tombstones) and ORMap (nested causal CRDTs under one causal context).
 * Each type module exposes `bottom()`, delta-mutators returning deltas,
 * `join(a, b)`, `value(s)` and `isBottom(s)`; deltas are states, so a
 * delta-group is just the join of deltas.
 *
 *   import { pncounter, join } from '../crdt/index.js'
 *   const d = pncounter.add(state, replicaId, 5)   // delta
 *   state = join(state, d)                         // apply locally; ship `d`
 *
 * Replication helpers: digest/deltaFor/planSync (anti-entropy),
 * DeltaBuffer (BP + RR, bounded), and a strict versioned codec.
 */
export * as gcounter from './gcounter.js'
export * as pncounter from './pncounter.js'
export * as lwwRegister from './lww-register.js'
export * as ccounter from './ccounter.js'
export * as mvRegister from './mv-register.js'
export * as clwwRegister from './clww-register.js'
export * as orset from './orset.js'
export * as ormap from './ormap.js'
export * as alog from './alog.js'
export * as hlc from './hlc.js'

export type { GCounter } from './gcounter.js'
export type { PNCounter } from './pncounter.js'
export type { LWWRegister, LwwEntry } from './lww-register.js'
export type { CausalCrdt, CCounter, MVRegister, CLWWRegister, ORSet, ORMap, ALog } from './causal.js'
export type { LogEntry, LogPosition, LogRange, Retention } from './alog.js'
export type { Hlc } from './hlc.js'
export type { Atom } from './atom.js'
export type { Dot, ReplicaId } from './dot.js'
export type { ValueType, StoreValue, DotSet, DotFun, LwwValue } from './stores.js'
export { valueTypesEqual, valueTypeName } from './stores.js'

export { join, joinAll, value, isBottom, bottomOf, equals, isCausal, typeName } from './crdt.js'
export type { Crdt, CrdtType, CrdtValue } from './crdt.js'
export { valueTypeOf, makeCausal } from './causal.js'
export { compareAtoms, atomKey } from './atom.js'

export {
  emptyContext, contextContains, contextDifference, contextLeq, compareContexts, contextsEqual,
  contextSize, contextCount, contextDifferenceCount, joinContexts, makeContext, contextFromDots, nextDot
} from './causal-context.js'
export type { CausalContext, ContextOrder } from './causal-context.js'

export { digest, deltaFor, extractNew, missingFrom, missingCount, planSync, hasNewFor, isEmptyDelta } from './digest.js'
export type { Digest, SyncPlan, SyncPlanOptions } from './digest.js'

export { DeltaBuffer, createDeltaBuffer } from './delta-buffer.js'
export type { DeltaBufferInit, DeltaBufferStats } from './delta-buffer.js'

export {
  encodeCrdt, decodeCrdt, encodeDeltaGroup, decodeDeltaGroup, encodeDigest, decodeDigest,
  encodedSize, replicaIds, CODEC_VERSION, DEFAULT_LIMITS, TYPE_TAGS
} from './codec.js'
export type { DeltaGroup, CodecLimits } from './codec.js'

export { CrdtDecodeError, CrdtArgumentError, CrdtTypeMismatchError, HlcDriftError } from './errors.js'
export type { CrdtDecodeReason } from './errors.js'
