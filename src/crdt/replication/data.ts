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
import { ccounter, clwwRegister, ormap, orset } from '../index.js'
import type { CCounter, CLWWRegister, Hlc, ORSet, ORMap } from '../index.js'
import { compareHlc, hlcTick } from '../hlc.js'
import { SECTION_COUNTERS, SECTION_KV, SECTION_SETS } from './state.js'
import type { SectionDelta, SectionedState } from './state.js'

const LOGICAL_SPAN = 4096

export function revisionOf (ts: Hlc): number {
  return ts.wall * LOGICAL_SPAN + Math.min(ts.logical, LOGICAL_SPAN - 1)
}

function only (index: number, d: ORMap): SectionDelta {
  const out: Array<ORMap | null> = [null, null, null]
  out[index] = d
  return out
}

export function counterValue (s: SectionedState, key: string): number {
  return ccounter.value(ormap.get<CCounter>(s.sections[SECTION_COUNTERS], key))
}

export function addCounter (s: SectionedState, self: string, key: string, delta: number): SectionDelta {
  return only(SECTION_COUNTERS, ormap.update<CCounter>(s.sections[SECTION_COUNTERS], key, (c) => ccounter.add(c, self, delta)))
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
