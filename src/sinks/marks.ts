/**
 * What a sink has shipped of an append-only log, tracked by dot
 * (replica, counter), not by position: an entry that reaches the shipping
 * replica after later entries were shipped (an append acked by a replica
 * that died before replicating it, back minutes later) is still not
 * covered, so it ships under the next window whatever its HLC.
 *
 * A mark is a compact causal context per log: per replica the contiguous
 * prefix `upTo` (every dot 1..upTo of that replica is done: shipped, or
 * not an entry of this log, or removed by retention before it shipped)
 * plus a few exception ranges above it (dots shipped past a gap). Its size
 * grows with the number of replicas, not of entries: exceptions exist only
 * while a gap is open (a dot not seen yet, an entry held for a later
 * window) and are absorbed into `upTo` when it closes; at most
 * MAX_EXCEPTION_RANGES are kept (dropping one only re-ships its entries
 * under the same keys, never skips one).
 *
 * Marks of several shippers (a partition, a hand-over) join by union.
 */
import { SinkMarkError } from './errors.js'

export type Ranges = Array<[number, number]>

export interface LogMark {
  /** replica -> every dot counter 1..n is done */
  upTo: Record<string, number>
  /** replica -> done counters above upTo: sorted, disjoint, non-adjacent inclusive ranges */
  x: Record<string, Ranges>
}

/** One shipper's mark document in the service's kv (`_sink/<sink>/marks/<peer>`). */
export interface MarkDoc {
  v: 1
  /** the newest window this shipper recorded as delivered (-1: none) */
  window: number
  logs: Record<string, LogMark>
}

/** exception ranges kept per log mark (the highest are dropped first: re-shipped, deduplicated by the receiver) */
export const MAX_EXCEPTION_RANGES = 1024
/** most bytes of a mark document read from the kv */
const MAX_DOC_BYTES = 1024 * 1024

export function emptyMark (): LogMark {
  return { upTo: {}, x: {} }
}

export function covers (m: LogMark, replica: string, counter: number): boolean {
  if (counter <= (m.upTo[replica] ?? 0)) return true
  const rs = m.x[replica]
  if (rs == null) return false
  // binary search over sorted disjoint ranges
  let lo = 0
  let hi = rs.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if (counter < rs[mid][0]) hi = mid - 1
    else if (counter > rs[mid][1]) lo = mid + 1
    else return true
  }
  return false
}

/** sorts, merges and absorbs ranges into the prefix; caps the exceptions */
function normalize (upTo: Record<string, number>, x: Record<string, Ranges>): LogMark {
  const out: LogMark = { upTo: {}, x: {} }
  for (const r of new Set([...Object.keys(upTo), ...Object.keys(x)])) {
    let u = upTo[r] ?? 0
    const merged: Ranges = []
    for (const [lo, hi] of [...(x[r] ?? [])].sort((a, b) => a[0] - b[0])) {
      if (hi <= u) continue
      if (lo <= u + 1) { u = hi; continue }
      const last = merged[merged.length - 1]
      if (last != null && lo <= last[1] + 1) last[1] = Math.max(last[1], hi)
      else merged.push([lo, hi])
    }
    if (u > 0) out.upTo[r] = u
    if (merged.length > 0) out.x[r] = merged
  }
  let total = Object.values(out.x).reduce((n, rs) => n + rs.length, 0)
  while (total > MAX_EXCEPTION_RANGES) {
    // drop the highest range of the replica with the most ranges
    const r = Object.keys(out.x).sort((a, b) => out.x[b].length - out.x[a].length)[0]
    out.x[r].pop()
    if (out.x[r].length === 0) delete out.x[r]
    total--
  }
  return out
}

/** union of two marks */
export function joinMarks (a: LogMark, b: LogMark): LogMark {
  const upTo: Record<string, number> = { ...a.upTo }
  for (const [r, n] of Object.entries(b.upTo)) upTo[r] = Math.max(upTo[r] ?? 0, n)
  const x: Record<string, Ranges> = {}
  for (const m of [a, b]) for (const [r, rs] of Object.entries(m.x)) x[r] = [...(x[r] ?? []), ...rs.map(([lo, hi]) => [lo, hi] as [number, number])]
  return normalize(upTo, x)
}

/**
 * The mark after shipping `shipped` from a replica that has seen every dot
 * 1..seen[r] of each replica r and holds back (for a later window) the
 * uncovered entries from `held[r]` on (their smallest counter per replica).
 * `done` says which dots were done before (the old mark, or a legacy
 * cursor): every seen dot below the first held one is done now, since it is
 * shipped, was done, or is not an entry of this log any more.
 */
export function advanceMark (old: LogMark, shipped: ReadonlyArray<{ replica: string, counter: number }>, seen: ReadonlyMap<string, number>, held: ReadonlyMap<string, number>): LogMark {
  const upTo: Record<string, number> = { ...old.upTo }
  for (const [r, n] of seen) {
    const limit = Math.min(n, (held.get(r) ?? Number.POSITIVE_INFINITY) - 1)
    if (limit > (upTo[r] ?? 0)) upTo[r] = limit
  }
  const x: Record<string, Ranges> = {}
  for (const [r, rs] of Object.entries(old.x)) x[r] = rs.map(([lo, hi]) => [lo, hi])
  for (const d of shipped) (x[d.replica] ??= []).push([d.counter, d.counter])
  return normalize(upTo, x)
}

function isCounter (n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0
}

function parseMark (v: unknown, where: string): LogMark {
  if (v == null || typeof v !== 'object' || Array.isArray(v)) throw new SinkMarkError(`${where}: not an object`)
  const o = v as Record<string, unknown>
  const upTo: Record<string, number> = {}
  const x: Record<string, Ranges> = {}
  if (o.upTo == null || typeof o.upTo !== 'object' || Array.isArray(o.upTo)) throw new SinkMarkError(`${where}.upTo: not an object`)
  for (const [r, n] of Object.entries(o.upTo as Record<string, unknown>)) {
    if (!isCounter(n)) throw new SinkMarkError(`${where}.upTo.${r}: not a dot counter`)
    upTo[r] = n
  }
  if (o.x != null) {
    if (typeof o.x !== 'object' || Array.isArray(o.x)) throw new SinkMarkError(`${where}.x: not an object`)
    for (const [r, rs] of Object.entries(o.x as Record<string, unknown>)) {
      if (!Array.isArray(rs)) throw new SinkMarkError(`${where}.x.${r}: not a list of ranges`)
      x[r] = rs.map((p: unknown) => {
        if (!Array.isArray(p) || p.length !== 2 || !isCounter(p[0]) || !isCounter(p[1]) || p[0] > p[1]) throw new SinkMarkError(`${where}.x.${r}: a range is [lo, hi] with 0 <= lo <= hi`)
        return [p[0], p[1]] as [number, number]
      })
    }
  }
  return normalize(upTo, x)
}

/** parses and validates a mark document (from the replicated kv: any peer could have written it) */
export function parseMarkDoc (text: string): MarkDoc {
  if (text.length > MAX_DOC_BYTES) throw new SinkMarkError('a mark document is at most 1 MiB')
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch {
    throw new SinkMarkError('a mark document is JSON')
  }
  if (v == null || typeof v !== 'object' || Array.isArray(v)) throw new SinkMarkError('a mark document is an object')
  const o = v as Record<string, unknown>
  if (o.v !== 1) throw new SinkMarkError(`unknown mark document version ${String(o.v)}`)
  if (typeof o.window !== 'number' || !Number.isSafeInteger(o.window) || o.window < -1) throw new SinkMarkError('window: an integer >= -1')
  if (o.logs == null || typeof o.logs !== 'object' || Array.isArray(o.logs)) throw new SinkMarkError('logs: an object')
  const logs: Record<string, LogMark> = {}
  for (const [k, m] of Object.entries(o.logs as Record<string, unknown>)) logs[k] = parseMark(m, `logs.${k}`)
  return { v: 1, window: o.window, logs }
}

export function joinDocs (a: MarkDoc, b: MarkDoc): MarkDoc {
  const logs: Record<string, LogMark> = { ...a.logs }
  for (const [k, m] of Object.entries(b.logs)) logs[k] = logs[k] != null ? joinMarks(logs[k], m) : m
  return { v: 1, window: Math.max(a.window, b.window), logs }
}

export function emptyDoc (): MarkDoc {
  return { v: 1, window: -1, logs: {} }
}
