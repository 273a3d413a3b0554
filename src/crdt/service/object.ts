/**
 * One replicated object held by this peer (a service replica or the
 * catalogue): its sectioned state, HLC, staleness tracker, the local deltas
 * waiting to be gossiped (bounded: flushed when the batch is full) and
 * its persistence to the datastore.
 *
 * Persistence is a snapshot plus an append-only delta log:
 * - every local write (and every received delta) appends one record
 *   (encodeDeltaRecord: the delta and the clock after it) under
 *   /dcis/crdt/deltas/<name>/<seq>; records queued while a commit is in
 *   flight are written together by the next one (group commit: one LevelDB
 *   batch, fsync'd with `sync: true` when the datastore is a LevelDatastore
 *   and `durable` is on), so a write costs its delta's size, not the
 *   object's;
 * - once the log holds more bytes than the last snapshot (at least
 *   COMPACT_MIN_BYTES) or COMPACT_MAX_RECORDS records, the next commit
 *   writes a new snapshot of the whole state and deletes every logged
 *   record in the same atomic batch (compaction; amortised O(1) per byte);
 * - recovery = snapshot (if any) + replay of the records in seq order
 *   (joins are idempotent, so a record already in the snapshot is harmless).
 * persist() resolves once a commit that started after the call is durable:
 * a write is acknowledged only then.
 */
import { Key } from 'interface-datastore'
import { join } from '../index.js'
import type { Hlc, ORMap } from '../index.js'
import { compareHlc, HLC_ZERO } from '../hlc.js'
import { CoalescedWriter } from './coalesced-writer.js'
import { applyDelta, bottomState, decodeDeltaRecord, decodeSnapshot, encodeDeltaRecord, encodeSnapshot, StalenessTracker } from '../replication/index.js'
import type { SectionDelta, SectionedState } from '../replication/index.js'
import type { Datastore } from 'interface-datastore'

export const CATALOGUE_OBJECT = '_catalogue'

export function objectKey (name: string): Key {
  return new Key(`/dcis/crdt/objects/${encodeURIComponent(name)}`)
}

/** prefix of the delta log records of an object */
export function deltaPrefix (name: string): string {
  return `/dcis/crdt/deltas/${encodeURIComponent(name)}/`
}

function deltaKey (name: string, seq: number): Key {
  return new Key(deltaPrefix(name) + String(seq).padStart(16, '0'))
}

/** the log is compacted once it exceeds the last snapshot's size, but not below this */
export const COMPACT_MIN_BYTES = 1024 * 1024
export const COMPACT_MAX_RECORDS = 100_000

export interface ReplicatedObjectOptions {
  /** fsync every commit when the datastore is a LevelDatastore (default true) */
  durable?: boolean
  /** compact once the log holds more bytes than the last snapshot, but not below this (default COMPACT_MIN_BYTES) */
  compactMinBytes?: number
  /** compact once the log holds this many records (default COMPACT_MAX_RECORDS) */
  compactMaxRecords?: number
}

interface SyncLevel {
  batch: (ops: Array<{ type: 'put', key: string, value: Uint8Array } | { type: 'del', key: string }>, options: { sync: boolean }) => Promise<void>
}

export class ReplicatedObject {
  readonly name: string
  readonly topic: string
  state: SectionedState
  clock: Hlc = HLC_ZERO
  readonly tracker = new StalenessTracker()
  /** local deltas not yet gossiped (joined into one delta-group) */
  pending: Array<ORMap | null>
  pendingOps = 0
  flushTimer?: ReturnType<typeof setTimeout>
  /** when the local deltas were last shipped (performance.now()) */
  lastFlushAt = -Infinity
  /** when staleness last exceeded the bound (for logging once per episode) */
  overBound = false
  private readonly datastore: Datastore
  private readonly durable: boolean
  private readonly compactMinBytes: number
  private readonly compactMaxRecords: number
  /** encoded delta records waiting for the next commit */
  private queuedRecords: Uint8Array[] = []
  /** a full snapshot was asked for (state joined from a sync, or compaction) */
  private snapshotWanted = false
  /** seq of the next delta record; records [firstSeq, nextSeq) are on disk */
  private nextSeq = 0
  private firstSeq = 0
  private loggedBytes = 0
  private snapshotBytes = 0
  /** commits and snapshots written (for benchmarks and tests) */
  readonly stats = { commits: 0, records: 0, snapshots: 0 }
  private readonly writer = new CoalescedWriter(async () => { await this.commit() })

  constructor (name: string, types: SectionedState['types'], datastore: Datastore, options: ReplicatedObjectOptions = {}) {
    this.name = name
    this.topic = `dcis/crdt/${name}/1`
    this.state = bottomState(types)
    this.pending = types.map(() => null)
    this.datastore = datastore
    this.durable = options.durable ?? true
    this.compactMinBytes = options.compactMinBytes ?? COMPACT_MIN_BYTES
    this.compactMaxRecords = options.compactMaxRecords ?? COMPACT_MAX_RECORDS
  }

  /** loads the persisted snapshot and replays the delta log; returns whether anything was found */
  async load (): Promise<boolean> {
    const key = objectKey(this.name)
    let found = false
    if (await this.datastore.has(key)) {
      const bytes = await this.datastore.get(key)
      const { state, clock } = decodeSnapshot(bytes, this.state.types)
      this.state = state
      this.clock = clock
      this.snapshotBytes = bytes.length
      found = true
    }
    const records: Array<{ seq: number, value: Uint8Array }> = []
    const prefix = deltaPrefix(this.name)
    for await (const { key: k, value } of this.datastore.query({ prefix })) {
      const seq = Number(k.toString().slice(prefix.length))
      if (!Number.isSafeInteger(seq)) continue
      records.push({ seq, value })
    }
    records.sort((a, b) => a.seq - b.seq)
    for (const r of records) {
      const { delta, clock } = decodeDeltaRecord(r.value, this.state.types)
      this.state = applyDelta(this.state, delta)
      if (compareHlc(clock, this.clock) > 0) this.clock = clock
      this.loggedBytes += r.value.length
    }
    if (records.length > 0) {
      this.firstSeq = records[0].seq
      this.nextSeq = records[records.length - 1].seq + 1
      found = true
    }
    return found
  }

  /** deletes the persisted state (the service was deleted) */
  async discard (): Promise<void> {
    await this.writer.flushed()
    const b = this.datastore.batch()
    b.delete(objectKey(this.name))
    for await (const k of this.datastore.queryKeys({ prefix: deltaPrefix(this.name) })) b.delete(k)
    await b.commit()
  }

  /**
   * One group commit: the queued delta records, or (when asked or due) a
   * snapshot of the current state replacing every logged record, in one
   * atomic batch.
   */
  private async commit (): Promise<void> {
    const records = this.queuedRecords
    this.queuedRecords = []
    const bytes = records.reduce((n, r) => n + r.length, 0)
    const due = this.loggedBytes + bytes > Math.max(this.compactMinBytes, this.snapshotBytes) ||
      this.nextSeq - this.firstSeq + records.length > this.compactMaxRecords
    const ops: Array<{ type: 'put', key: Key, value: Uint8Array } | { type: 'del', key: Key }> = []
    if (this.snapshotWanted || due) {
      this.snapshotWanted = false
      // the state already holds every queued record's delta
      const snap = encodeSnapshot(this.state, this.clock)
      ops.push({ type: 'put', key: objectKey(this.name), value: snap })
      for (let s = this.firstSeq; s < this.nextSeq; s++) ops.push({ type: 'del', key: deltaKey(this.name, s) })
      await this.write(ops)
      this.firstSeq = this.nextSeq
      this.loggedBytes = 0
      this.snapshotBytes = snap.length
      this.stats.snapshots++
    } else {
      if (records.length === 0) return
      const first = this.nextSeq
      records.forEach((r, i) => ops.push({ type: 'put', key: deltaKey(this.name, first + i), value: r }))
      await this.write(ops)
      this.nextSeq = first + records.length
      this.loggedBytes += bytes
      this.stats.records += records.length
    }
    this.stats.commits++
  }

  private async write (ops: Array<{ type: 'put', key: Key, value: Uint8Array } | { type: 'del', key: Key }>): Promise<void> {
    const db = this.durable ? (this.datastore as { db?: Partial<SyncLevel> }).db : undefined
    if (db != null && typeof db.batch === 'function') {
      await db.batch(ops.map(o => o.type === 'put' ? { type: 'put', key: o.key.toString(), value: o.value } : { type: 'del', key: o.key.toString() }), { sync: true })
      return
    }
    const b = this.datastore.batch()
    for (const o of ops) {
      if (o.type === 'put') b.put(o.key, o.value)
      else b.delete(o.key)
    }
    await b.commit()
  }

  apply (delta: SectionDelta): void {
    this.state = applyDelta(this.state, delta)
  }

  /** remembers a local delta for the next gossip flush */
  queue (delta: SectionDelta): void {
    this.pending = this.pending.map((p, i) => {
      const d = delta[i]
      if (d == null) return p
      return p == null ? d : join(p, d)
    })
    this.pendingOps++
  }

  takePending (): SectionDelta | null {
    if (this.pendingOps === 0) return null
    const out = this.pending
    this.pending = this.pending.map(() => null)
    this.pendingOps = 0
    return out
  }

  /**
   * Makes the state durable: with `delta` (already applied) by appending it
   * to the delta log (`encoded`: the record's bytes when the caller has
   * them, i.e. a received gossip delta message, which decodeDeltaRecord
   * reads too), without by writing a whole snapshot. Calls made while
   * a commit is queued share it (group commit). Resolves once a commit that
   * started after this call is durable.
   */
  async persist (delta?: SectionDelta, encoded?: Uint8Array): Promise<void> {
    if (delta == null) this.snapshotWanted = true
    else if (encoded != null) this.queuedRecords.push(encoded)
    else if (delta.some(d => d != null)) this.queuedRecords.push(encodeDeltaRecord(delta, this.clock))
    return this.writer.write()
  }

  async flushed (): Promise<void> {
    await this.writer.flushed()
  }
}
