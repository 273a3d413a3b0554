/**
 * What the catalogue's state means (pure): functions with numbered
 * versions, the current pointer, known-good marks and events, and the
 * applied manifests. Every peer holding the same state computes the same
 * view, whatever order the deltas arrived in:
 *
 * - a register's value is its LWW winner: greatest (HLC, writer peer id,
 *   value) among concurrent writes (src/crdt/clww-register.ts);
 * - versions are numbered 1, 2, ... in the order of their first deploy's
 *   HLC reading (`deployedHlc`; ties: deploying peer id, then CID), which
 *   a later update of the same version keeps. Two concurrent deploys
 *   of a name both survive; the one with the later HLC gets the higher
 *   number;
 * - `current` is the winner of `fn/<name>/current`: the latest deploy or
 *   rollback by HLC. A pointer to a version this peer has not received yet
 *   falls back to the highest-numbered version until the version arrives.
 */
import { compareStrings } from '../crdt/atom.js'
import { compareHlc } from '../crdt/hlc.js'
import { lwwWinner } from '../crdt/stores.js'
import type { Hlc, ORMap } from '../crdt/index.js'
import type { DotFun, LwwValue } from '../crdt/stores.js'
import { CatalogueRecordError } from './errors.js'
import { parseKey, parseRecord } from './records.js'
import type { CatalogueManifestKind, CurrentRecord, EventRecord, ManifestRecord, VersionRecord } from './records.js'
import type { RolloutRecord, RolloutReportRecord } from './rollout-records.js'

/** events kept per function in a view (older ones are pruned by writers) */
export const MAX_EVENTS_SHOWN = 100

export interface Stamp {
  hlc: Hlc
  /** the peer that wrote the winning record */
  writer: string
}

export interface FunctionVersionView extends VersionRecord {
  /** 1, 2, ... in HLC order of the deploys */
  version: number
  knownGood: boolean
  stamp: Stamp
}

export interface FunctionEventView extends EventRecord {
  stamp: Stamp
}

export interface FunctionView {
  name: string
  /** the cid of the current version */
  current: string
  /** who moved the pointer last, and when (HLC) */
  currentStamp?: Stamp
  versions: FunctionVersionView[]
  /** oldest first, the last MAX_EVENTS_SHOWN */
  events: FunctionEventView[]
  /** event keys in order, all of them (writers prune the oldest) */
  eventKeys: string[]
  /** the function's rollout (the latest one), if any */
  rollout?: RolloutRecord & { stamp: Stamp }
  /** peers' figures for rollouts (the driver reads those of `rollout.id`) */
  reports: RolloutReportRecord[]
}

export interface ManifestView extends ManifestRecord {
  stamp: Stamp
}

export interface CatalogueView {
  functions: ReadonlyMap<string, FunctionView>
  manifests: readonly ManifestView[]
  /** registers whose winning value failed to parse (never expected: values are checked on the way in) */
  invalid: number
}

export type SpecCheck = (kind: CatalogueManifestKind, spec: Record<string, unknown>) => void

function compareStamps (a: Stamp, b: Stamp): number {
  return compareHlc(a.hlc, b.hlc) || compareStrings(a.writer, b.writer)
}

function hlcOf (v: VersionRecord): Hlc {
  return { wall: v.deployedHlc[0], logical: v.deployedHlc[1] }
}

interface Draft {
  versions: Array<{ rec: VersionRecord, stamp: Stamp }>
  current?: { rec: CurrentRecord, stamp: Stamp }
  good: Set<string>
  events: Array<{ key: string, rec: EventRecord, stamp: Stamp }>
  rollout?: { rec: RolloutRecord, stamp: Stamp }
  reports: RolloutReportRecord[]
}

/** Builds the view of a catalogue state (an ORMap of CLWW registers). */
export function viewOf (m: ORMap, checkSpec?: SpecCheck): CatalogueView {
  const drafts = new Map<string, Draft>()
  const manifests: ManifestView[] = []
  let invalid = 0
  const draft = (name: string): Draft => {
    let d = drafts.get(name)
    if (d == null) { d = { versions: [], good: new Set(), events: [], reports: [] }; drafts.set(name, d) }
    return d
  }
  for (const [key, store] of m.store) {
    const w = lwwWinner(store as DotFun<LwwValue>)
    if (w == null) continue
    const stamp: Stamp = { hlc: w.value.ts, writer: w.dot.replica }
    let r
    try {
      r = parseRecord(key, w.value.value, checkSpec)
    } catch {
      invalid++
      continue
    }
    switch (r.key.type) {
      case 'version': draft(r.key.name).versions.push({ rec: r.value as VersionRecord, stamp }); break
      case 'current': draft(r.key.name).current = { rec: r.value as CurrentRecord, stamp }; break
      case 'good': draft(r.key.name).good.add(r.key.cid); break
      case 'event': draft(r.key.name).events.push({ key, rec: r.value as EventRecord, stamp }); break
      case 'manifest': manifests.push({ ...(r.value as ManifestRecord), stamp }); break
      case 'rollout': draft(r.key.name).rollout = { rec: r.value as RolloutRecord, stamp }; break
      case 'report': draft(r.key.name).reports.push(r.value as RolloutReportRecord); break
    }
  }
  const functions = new Map<string, FunctionView>()
  for (const name of [...drafts.keys()].sort(compareStrings)) {
    const d = drafts.get(name) as Draft
    if (d.versions.length === 0) continue
    d.versions.sort((a, b) => compareHlc(hlcOf(a.rec), hlcOf(b.rec)) || compareStrings(a.rec.deployedBy, b.rec.deployedBy) || compareStrings(a.rec.cid, b.rec.cid))
    const versions = d.versions.map((v, i) => ({ ...v.rec, version: i + 1, knownGood: d.good.has(v.rec.cid), stamp: v.stamp }))
    const pointed = d.current != null && versions.some(v => v.cid === d.current?.rec.id) ? d.current.rec.id : undefined
    d.events.sort((a, b) => compareStamps(a.stamp, b.stamp) || compareStrings(a.key, b.key))
    functions.set(name, {
      name,
      current: pointed ?? versions[versions.length - 1].cid,
      ...(d.current != null ? { currentStamp: d.current.stamp } : {}),
      versions,
      events: d.events.slice(-MAX_EVENTS_SHOWN).map(e => ({ ...e.rec, stamp: e.stamp })),
      eventKeys: d.events.map(e => e.key),
      ...(d.rollout != null ? { rollout: { ...d.rollout.rec, stamp: d.rollout.stamp } } : {}),
      reports: d.reports.sort((a, b) => compareStrings(a.peer, b.peer))
    })
  }
  manifests.sort((a, b) => compareStrings(a.kind, b.kind) || compareStrings(a.name, b.name))
  return { functions, manifests, invalid }
}

/**
 * Checks every key and every value of a received delta or state (not only
 * the winners: a losing value may win later). Throws CatalogueRecordError
 * naming the first bad record.
 */
export function checkDelta (m: ORMap, checkSpec?: SpecCheck): number {
  if (m.valueType.kind !== 'clwwregister') throw new CatalogueRecordError('delta', 'not an ORMap of CLWW registers')
  let n = 0
  for (const [key, store] of m.store) {
    parseKey(key)
    for (const e of store as DotFun<LwwValue>) {
      parseRecord(key, e.value.value, checkSpec)
      n++
    }
  }
  return n
}

/** The greatest HLC written under `prefix` (so a new write there is ordered after everything it saw). */
export function maxStampUnder (m: ORMap, prefix: string): Hlc | undefined {
  let best: Hlc | undefined
  for (const [key, store] of m.store) {
    if (!key.startsWith(prefix)) continue
    for (const e of store as DotFun<LwwValue>) {
      if (best == null || compareHlc(e.value.ts, best) > 0) best = e.value.ts
    }
  }
  return best
}
