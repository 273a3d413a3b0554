/**
 * The data model of an eventual service on its sectioned state (pure):
 * counters (a removable PN counter per key: CCounter in an ORMap), kv
 * (causal LWW registers with HLC timestamps) and sets (add-wins ORSets).
 *
 * Revisions (kv): a key's revision is its winning write's HLC packed into
 * one integer, `wall * 4096 + min(logical, 4095)`. A writer stamps a write
 * after both its clock and the key's current winner, so the revision a
 * replica reports for a key only grows; a delete gets the revision of its
 * own HLC reading. Revisions are comparable across replicas (they order
 * writes by time), not consecutive.
 */
import { alog, ccounter, clwwRegister, contextFromDots, joinContexts, ormap, orset } from '../index.js'
import { contextDots } from '../causal-context.js'
import type { ALog, CCounter, CLWWRegister, Dot, Hlc, LogEntry, LogPosition, LogRange, ORSet, ORMap, Retention } from '../index.js'
import { compareHlc, hlcTick } from '../hlc.js'
import { SECTION_COUNTERS, SECTION_KV, SECTION_LOGS, SECTION_SETS } from './state.js'
import type { SectionDelta, SectionedState } from './state.js'

const LOGICAL_SPAN = 4096

export function revisionOf (ts: Hlc): number {
  return ts.wall * LOGICAL_SPAN + Math.min(ts.logical, LOGICAL_SPAN - 1)
}

function only (index: number, d: ORMap): SectionDelta {
  const out: Array<ORMap | null> = [null, null, null, null]
  out[index] = d
  return out
}

export function counterValue (s: SectionedState, key: string): number {
  return ccounter.value(ormap.get<CCounter>(s.sections[SECTION_COUNTERS], key))
}

export function addCounter (s: SectionedState, self: string, key: string, delta: number): SectionDelta {
  return only(SECTION_COUNTERS, ormap.update<CCounter>(s.sections[SECTION_COUNTERS], key, (c) => ccounter.add(c, self, delta)))
}

/**
 * One delta adding to many counters (a batch): built key by key on the
 * section's store with a running causal context, so each key gets its own
 * fresh dot, then assembled into one ORMap delta. O(keys), not O(keys x state).
 */
export function addCounters (s: SectionedState, self: string, entries: ReadonlyArray<readonly [string, number]>): SectionDelta {
  const sum = new Map<string, number>()
  for (const [k, d] of entries) sum.set(k, (sum.get(k) ?? 0) + d)
  const section = s.sections[SECTION_COUNTERS]
  let ctx = section.ctx
  // the delta's context is built once from every key's dots: joining it key
  // by key grew a scattered cloud and cost O(keys^2) (~25 ms for 1,000 keys)
  const dots: Dot[] = []
  const store = new Map<string, ORMap['store'] extends ReadonlyMap<string, infer V> ? V : never>()
  for (const [key, delta] of sum) {
    const d = ormap.update<CCounter>({ ...section, ctx }, key, (c) => ccounter.add(c, self, delta))
    ctx = joinContexts(ctx, d.ctx)
    for (const dot of contextDots(d.ctx)) dots.push(dot)
    const v = d.store.get(key)
    if (v != null) store.set(key, v)
  }
  return only(SECTION_COUNTERS, { type: 'ormap', valueType: section.valueType, ctx: dots.length > 0 ? contextFromDots(dots) : section.ctx, store })
}

export function counterKeys (s: SectionedState): string[] {
  return ormap.keys(s.sections[SECTION_COUNTERS])
}

export interface KvRead { value: string, ts: Hlc, writer: string }

function atomText (v: string | Uint8Array): string {
  return typeof v === 'string' ? v : new TextDecoder().decode(v)
}

export function kvGet (s: SectionedState, key: string): KvRead | undefined {
  if (!ormap.has(s.sections[SECTION_KV], key)) return undefined
  const w = clwwRegister.winner(ormap.get<CLWWRegister>(s.sections[SECTION_KV], key))
  return w == null ? undefined : { value: atomText(w.value), ts: w.ts, writer: w.replica }
}

/** The timestamp for a new write of `key`: after the local clock and after the key's winner. */
export function nextStamp (s: SectionedState, key: string, clock: Hlc, nowMs: number): Hlc {
  const cur = kvGet(s, key)
  const base = cur != null && compareHlc(cur.ts, clock) > 0 ? cur.ts : clock
  return hlcTick(base, nowMs)
}

export function kvPut (s: SectionedState, self: string, key: string, ts: Hlc, value: string): SectionDelta {
  return only(SECTION_KV, ormap.update<CLWWRegister>(s.sections[SECTION_KV], key, (r) => clwwRegister.set(r, self, ts, value)))
}

export function kvDelete (s: SectionedState, key: string): SectionDelta {
  return only(SECTION_KV, ormap.remove(s.sections[SECTION_KV], key))
}

export function setMembers (s: SectionedState, key: string): string[] {
  return orset.value(ormap.get<ORSet>(s.sections[SECTION_SETS], key)).map(atomText)
}

export function setAdd (s: SectionedState, self: string, key: string, member: string): SectionDelta {
  return only(SECTION_SETS, ormap.update<ORSet>(s.sections[SECTION_SETS], key, (v) => orset.add(v, self, member)))
}

export function setRemove (s: SectionedState, key: string, member: string): SectionDelta {
  return only(SECTION_SETS, ormap.update<ORSet>(s.sections[SECTION_SETS], key, (v) => orset.remove(v, member)))
}

// ---- append-only logs -------------------------------------------------------

/**
 * HLC readings for `n` appends to `key`: strictly increasing, after the
 * local clock and after the log's newest entry (so a replica's appends stay
 * in the order it accepted them even if its wall clock stepped back).
 */
export function logStamps (s: SectionedState, key: string, clock: Hlc, nowMs: number, n: number): Hlc[] {
  const log = ormap.get<ALog>(s.sections[SECTION_LOGS], key)
  let last = clock
  for (const e of log.store) if (compareHlc(e.value.ts, last) > 0) last = e.value.ts
  const out: Hlc[] = []
  for (let i = 0; i < n; i++) {
    last = hlcTick(last, nowMs)
    out.push(last)
  }
  return out
}

export function logAppend (s: SectionedState, self: string, key: string, ts: readonly Hlc[], values: readonly string[]): SectionDelta {
  return only(SECTION_LOGS, ormap.update<ALog>(s.sections[SECTION_LOGS], key, (l) => alog.append(l, self, ts, values)))
}

export function logRead (s: SectionedState, key: string, range: LogRange): LogEntry[] {
  return alog.read(ormap.get<ALog>(s.sections[SECTION_LOGS], key), range)
}

/** The entries of `key` whose dot `covered` rejects (a consumer tracking what it read by dot: alog.readUncovered). */
export function logReadUncovered (s: SectionedState, key: string, covered: (p: LogPosition) => boolean, range: { toMs?: number, limit?: number }): alog.UncoveredRead {
  return alog.readUncovered(ormap.get<ALog>(s.sections[SECTION_LOGS], key), covered, range)
}

export function logLength (s: SectionedState, key: string): number {
  return alog.length(ormap.get<ALog>(s.sections[SECTION_LOGS], key))
}

export function logKeys (s: SectionedState): string[] {
  return ormap.keys(s.sections[SECTION_LOGS])
}

/** The delta that applies `retention` to every log at `nowMs`, or null when nothing is due. */
export function logRetain (s: SectionedState, retention: Retention, nowMs: number): SectionDelta | null {
  const logs = s.sections[SECTION_LOGS]
  let delta: ORMap | null = null
  for (const key of ormap.keys(logs)) {
    const dots = alog.expired(ormap.get<ALog>(logs, key), retention, nowMs)
    if (dots.length === 0) continue
    const d = ormap.update<ALog>(logs, key, (l) => alog.removeDots(l, dots))
    delta = delta == null ? d : ormap.join(delta, d)
  }
  return delta == null ? null : only(SECTION_LOGS, delta)
}

const CURSOR = /^(\d{1,16})\.(\d{1,16})\.(\d{1,16})\.([\x21-\x7e]{1,256})$/

/** A consumer's cursor: the position of the last entry it read, as text (`wall.logical.counter.replica`). */
export function encodeCursor (e: { ts: Hlc, replica: string, counter: number }): string {
  return `${e.ts.wall}.${e.ts.logical}.${e.counter}.${e.replica}`
}

/** Parses a cursor; undefined when it is malformed. */
export function parseCursor (text: string): { ts: Hlc, replica: string, counter: number } | undefined {
  const m = CURSOR.exec(text)
  if (m == null) return undefined
  const [wall, logical, counter] = [Number(m[1]), Number(m[2]), Number(m[3])]
  if (![wall, logical, counter].every(Number.isSafeInteger)) return undefined
  return { ts: { wall, logical }, replica: m[4], counter }
}
