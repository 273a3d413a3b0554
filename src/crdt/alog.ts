/**
 * Append-only log as a causal delta-CRDT: every append is a fresh dot
 * carrying (HLC timestamp, payload); appends never cover older dots, so
 * concurrent appends from any replica all survive. The log's total order
 * is (HLC, replica id, dot counter): the same on every replica that holds
 * the same entries, and a replica's own appends keep their local order
 * (its HLC only grows).
 *
 * Retention removes entries by putting their dots in the context only (as
 * an ORSet remove does), so a trimmed log carries no tombstones and the
 * order of what is left never changes ("compaction keeps the order"). A
 * removal of entries a replica has not seen yet is still honoured when they
 * arrive (their dots are covered by the context).
 */
import { assertAtom } from './atom.js'
import type { Atom } from './atom.js'
import { contextFromDots, nextDot } from './causal-context.js'
import { bottomCausal, clearCausal, isBottomCausal, joinCausal } from './causal.js'
import type { ALog } from './causal.js'
import { assertReplicaId } from './dot.js'
import type { Dot, ReplicaId } from './dot.js'
import { CrdtArgumentError } from './errors.js'
import { assertHlc, compareHlc } from './hlc.js'
import type { Hlc } from './hlc.js'
import { compareStrings } from './atom.js'
import { compareLogEntries, logEntries } from './stores.js'

export type { ALog }

/** One entry as read from a log. */
export interface LogEntry {
  readonly ts: Hlc
  readonly replica: ReplicaId
  /** the appending replica's dot counter (unique per replica) */
  readonly counter: number
  readonly value: Atom
}

/** A position in a log's total order: resume after it. */
export interface LogPosition {
  readonly ts: Hlc
  readonly replica: ReplicaId
  readonly counter: number
}

export function bottom (): ALog {
  return bottomCausal({ kind: 'alog' }) as ALog
}

export const isBottom = isBottomCausal as (s: ALog) => boolean
export const join = joinCausal<ALog>

/**
 * Delta-mutator: append `values` in order at `replica`, stamped `ts[i]`
 * (one HLC reading per value, strictly increasing, from the caller's clock).
 */
export function append (s: ALog, replica: ReplicaId, ts: readonly Hlc[], values: readonly Atom[]): ALog {
  assertReplicaId(replica)
  if (ts.length !== values.length) throw new CrdtArgumentError('ts', 'needs one timestamp per value')
  const first = nextDot(s.ctx, replica)
  const store = values.map((value, i) => {
    assertAtom(value, `values[${i}]`)
    assertHlc(ts[i], `ts[${i}]`)
    if (i > 0 && compareHlc(ts[i - 1], ts[i]) >= 0) throw new CrdtArgumentError(`ts[${i}]`, 'timestamps must increase')
    return { dot: { replica, counter: first.counter + i }, value: { ts: ts[i], value } }
  })
  return { type: 'alog', ctx: contextFromDots(store.map((e) => e.dot)), store }
}

/** Delta-mutator: remove the given entries (retention, compaction). */
export function removeDots (_s: ALog, dots: readonly Dot[]): ALog {
  return { type: 'alog', ctx: contextFromDots(dots), store: [] }
}

export function clear (s: ALog): ALog {
  return clearCausal(s)
}

/** Every entry in the log's total order. */
export function entries (s: ALog): LogEntry[] {
  return logEntries(s.store).map((e) => ({ ts: e.value.ts, replica: e.dot.replica, counter: e.dot.counter, value: e.value.value }))
}

export function length (s: ALog): number {
  return s.store.length
}

/** The payloads in order. */
export function value (s: ALog): Atom[] {
  return entries(s).map((e) => e.value)
}

export function comparePositions (a: LogPosition, b: LogPosition): number {
  return compareHlc(a.ts, b.ts) || compareStrings(a.replica, b.replica) || a.counter - b.counter
}

export interface LogRange {
  /** only entries strictly after this position (a consumer's cursor) */
  after?: LogPosition
  /** only entries with HLC wall time >= fromMs */
  fromMs?: number
  /** only entries with HLC wall time < toMs */
  toMs?: number
  /** at most this many entries (the first ones in order) */
  limit?: number
}

/** The entries of `range`, in order. */
export function read (s: ALog, range: LogRange = {}): LogEntry[] {
  const out: LogEntry[] = []
  const limit = range.limit ?? Number.POSITIVE_INFINITY
  for (const e of logEntries(s.store)) {
    if (out.length >= limit) break
    const p = { ts: e.value.ts, replica: e.dot.replica, counter: e.dot.counter }
    if (range.after != null && comparePositions(p, range.after) <= 0) continue
    if (range.fromMs != null && e.value.ts.wall < range.fromMs) continue
    if (range.toMs != null && e.value.ts.wall >= range.toMs) break
    out.push({ ...p, value: e.value.value })
  }
  return out
}

export interface Retention {
  /** entries whose HLC wall time is older than nowMs - maxAgeMs are dropped */
  maxAgeMs?: number
  /** only the newest maxEntries entries are kept */
  maxEntries?: number
}

/**
 * The dots retention drops at `nowMs`: a prefix of the order (the oldest
 * entries), so what is left keeps its order. Empty when nothing is due.
 */
export function expired (s: ALog, retention: Retention, nowMs: number): Dot[] {
  const sorted = s.store.length > 0 && (retention.maxAgeMs != null || (retention.maxEntries != null && s.store.length > retention.maxEntries))
    ? [...s.store].sort(compareLogEntries)
    : []
  let cut = 0
  if (retention.maxEntries != null && sorted.length > retention.maxEntries) cut = sorted.length - retention.maxEntries
  if (retention.maxAgeMs != null) {
    const horizon = nowMs - retention.maxAgeMs
    while (cut < sorted.length && sorted[cut].value.ts.wall < horizon) cut++
  }
  return sorted.slice(0, cut).map((e) => e.dot)
}

/** What `readUncovered` returns. */
export interface UncoveredRead {
  /** the uncovered entries inside the range, in order (at most `limit`) */
  readonly entries: LogEntry[]
  /** replica -> the smallest dot counter of an uncovered entry left out (past `toMs` or the limit) */
  readonly held: Map<ReplicaId, number>
  /** replica -> every dot 1..n of it has been seen here (the context's contiguous part) */
  readonly seen: ReadonlyMap<ReplicaId, number>
}

/**
 * A consumer that tracks what it read by dot (not by position): the entries
 * `covered` rejects (by dot, or position), whatever their HLC, so an entry that arrives
 * after later ones were read is still found. `held` and `seen` let the
 * consumer advance a compact per-replica mark: a dot seen here that is
 * neither read nor held is not (or no longer, after retention) an entry of
 * this log.
 */
export function readUncovered (s: ALog, covered: (p: LogPosition) => boolean, range: { toMs?: number, limit?: number } = {}): UncoveredRead {
  const limit = range.limit ?? Number.POSITIVE_INFINITY
  const out: LogEntry[] = []
  const held = new Map<ReplicaId, number>()
  const open = s.store.filter((e) => !covered({ ts: e.value.ts, replica: e.dot.replica, counter: e.dot.counter })).sort(compareLogEntries)
  for (const e of open) {
    if (out.length < limit && (range.toMs == null || e.value.ts.wall < range.toMs)) {
      out.push({ ts: e.value.ts, replica: e.dot.replica, counter: e.dot.counter, value: e.value.value })
    } else {
      const h = held.get(e.dot.replica)
      if (h == null || e.dot.counter < h) held.set(e.dot.replica, e.dot.counter)
    }
  }
  return { entries: out, held, seen: s.ctx.vv }
}
