/**
 * FileLogStorage: the durable LogStorage.
 *
 * Writes go through one queue drained by a single writer: every pass takes
 * all queued log operations (append / setHardState / compact), validates and
 * applies them to the in-memory index in call order, frames their records
 * into one buffer, writes it at the end of the active segment and calls
 * fdatasync once, then settles them all. Calls made while an fsync is in
 * flight therefore share the next one (group commit). Snapshot operations
 * run alone, between batches.
 *
 * Why the hard state lives in the same record stream as the entries: Raft
 * needs (term, vote) durable together with the entries appended in the same
 * Ready, and a single append-only stream with one fsync per batch makes that
 * atomic (both records are in the same checksummed write; recovery either
 * sees the batch prefix or not) and costs no extra fsync. Each segment header
 * repeats the current hard state so old segments can be deleted.
 *
 * Reads (the synchronous LogStorage methods) reflect every operation the
 * writer has applied, which can include a batch whose fsync is still in
 * flight; a promise resolving is what says "durable". A failed write or
 * fsync poisons the instance (StorageFailedError on every later write): after
 * a failed fsync the kernel may have dropped the dirty pages, so only a
 * reopen, which recovers from what is really on disk, is trustworthy.
 */
import { join } from 'node:path'
import type { AbortOptions } from '@libp2p/interface'
import type { Logger } from '../../telemetry/index.js'
import { CompactedError, SnapshotOutOfDateError, UnavailableError } from '../core/errors.js'
import { emptyConfState } from '../core/types.js'
import type { ConfState, Entry, HardState, Snapshot } from '../core/types.js'
import { InvalidEntriesError, StorageClosedError, StorageFailedError } from './errors.js'
import { nodeWalFs } from './fs.js'
import type { WalFs } from './fs.js'
import type { FileLogStorageApi, FileLogStorageOptions, WalCipher, WalStats, WriteOptions } from './index.js'
import { acquireLock } from './lock.js'
import type { LogIndex } from './log-index.js'
import type { WalMetrics } from './metrics.js'
import { BatchEncoder } from './record.js'
import { recoverWal } from './recovery.js'
import { createSegment } from './segment.js'
import type { Segment } from './segment.js'
import { SnapshotStore } from './snapshot-store.js'
import { validateConfState, validateEntries, validateHardState, validateSnapshot } from './validate.js'

const DEFAULT_SEGMENT_BYTES = 32 * 1024 * 1024
const DEFAULT_CACHE_BYTES = 32 * 1024 * 1024

interface OpBase {
  resolve: (value: unknown) => void
  reject: (err: Error) => void
  signal?: AbortSignal
  onAbort?: () => void
}

type Op = OpBase & (
  | { kind: 'append', entries: Entry[], hardState?: HardState, sync: boolean }
  | { kind: 'hardState', hardState: HardState, sync: boolean }
  | { kind: 'compact', index: number }
  | { kind: 'applySnapshot', snapshot: Snapshot, hardState?: HardState }
  | { kind: 'createSnapshot', index: number, confState: ConfState, data: Uint8Array }
)

type LogOp = Extract<Op, { kind: 'append' | 'hardState' | 'compact' }>
type SnapOp = Extract<Op, { kind: 'applySnapshot' | 'createSnapshot' }>

function isSnapOp (op: Op): op is SnapOp {
  return op.kind === 'applySnapshot' || op.kind === 'createSnapshot'
}

function emptySnapshot (): Snapshot {
  return { metadata: { index: 0, term: 0, confState: emptyConfState() }, data: new Uint8Array(0) }
}

export class FileLogStorage implements FileLogStorageApi {
  private readonly queue: Op[] = []
  /** encryption at rest of entry data (set once by open) */
  private cipher?: WalCipher
  private pumping?: Promise<void>
  private closed = false
  private closing?: Promise<void>
  private failed?: StorageFailedError
  /** the in-memory hard state is newer than the last one written (an unsynced update is pending) */
  private hardStateDirty = false
  private readonly counters = { batches: 0, fsyncs: 0, writes: 0, records: 0, bytes: 0 }
  private readonly labels: { group: string }

  private constructor (
    readonly dir: string,
    private readonly fs: WalFs,
    private readonly index: LogIndex,
    private hardState: HardState,
    private snap: Snapshot,
    private readonly segments: Segment[],
    private readonly snapshots: SnapshotStore,
    private readonly opts: { segmentBytes: number, keepSnapshots: number, groupCommit: boolean },
    private readonly unlock: () => Promise<void>,
    private readonly log?: Logger,
    private readonly metrics?: WalMetrics,
    group = ''
  ) {
    this.labels = { group }
  }

  static async open (dir: string, options: FileLogStorageOptions = {}): Promise<FileLogStorage> {
    const fs = options.fs ?? nodeWalFs()
    const log = options.logger?.child({ component: 'dcis:raft:wal', group: options.group ?? '' })
    const segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES
    const cacheBytes = options.cacheBytes ?? DEFAULT_CACHE_BYTES
    const keepSnapshots = options.keepSnapshots ?? 2
    if (!Number.isSafeInteger(segmentBytes) || segmentBytes < 1024) throw new RangeError('segmentBytes must be an integer >= 1024')
    if (!Number.isSafeInteger(cacheBytes) || cacheBytes < 0) throw new RangeError('cacheBytes must be an integer >= 0')
    if (!Number.isSafeInteger(keepSnapshots) || keepSnapshots < 1) throw new RangeError('keepSnapshots must be an integer >= 1')

    await fs.mkdirp(dir)
    const unlock = await acquireLock(dir)
    try {
      const wal = await recoverWal(fs, join(dir, 'wal'), cacheBytes, log)
      const cipher = options.cipher
      if (cipher !== undefined) {
        wal.index.opener = (sealed, index, term) => cipher.openEntry(sealed, index, term)
        wal.index.sealedOverhead = cipher.overhead
      }
      const snapshots = new SnapshotStore(fs, join(dir, 'snap'), log, cipher)
      let snap: Snapshot
      try {
        await snapshots.init()
        snap = await snapshots.recover(wal.snapshot, wal.index.dummyIndex) ?? emptySnapshot()
      } catch (err) {
        await Promise.all(wal.segments.map(async s => { await s.file.close().catch(() => {}) }))
        throw err
      }
      const storage = new FileLogStorage(dir, fs, wal.index, wal.hardState, snap, wal.segments, snapshots,
        { segmentBytes, keepSnapshots, groupCommit: options.groupCommit ?? true }, unlock, log, options.metrics, options.group)
      storage.cipher = cipher
      log?.info({ firstIndex: storage.firstIndex(), lastIndex: storage.lastIndex(), snapshotIndex: snap.metadata.index, segments: wal.segments.length },
        'WAL recovered')
      return storage
    } catch (err) {
      await unlock()
      throw err
    }
  }

  /**
   * Write one Reset or Snapshot record as its own durable batch, with the
   * hard state if one is given or an unsynced one is pending (same batch:
   * atomic with the record).
   */
  private async writeSnapshotRecord (kind: 'reset' | 'snapshot', index: number, term: number, hardState?: HardState): Promise<void> {
    let active: Segment
    try {
      active = await this.activeSegment()
    } catch (err) {
      throw this.fail(err, 'WAL segment rollover')
    }
    const enc = new BatchEncoder(128, true, active.header.salt)
    if (kind === 'reset') enc.reset(index, term)
    else enc.snapshot(index, term)
    const hs = hardState ?? (this.hardStateDirty ? this.hardState : undefined)
    if (hs != null) enc.hardState(hs)
    await this.writeBatch(active, enc.finish(), hs != null ? 2 : 1)
    if (hs != null) {
      this.hardState = { ...hs }
      this.hardStateDirty = false
    }
  }

  // ---- LogStorage (reads) ----

  initialState (): { hardState: HardState, confState: ConfState } {
    return { hardState: { ...this.hardState }, confState: structuredClone(this.snap.metadata.confState) }
  }

  entries (lo: number, hi: number, maxBytes?: number): Entry[] {
    return this.index.entries(lo, hi, maxBytes)
  }

  term (i: number): number { return this.index.term(i) }
  firstIndex (): number { return this.index.firstIndex() }
  lastIndex (): number { return this.index.lastIndex() }
  snapshot (): Snapshot { return this.snap }

  stats (): WalStats {
    return { ...this.counters, segments: this.segments.length, cachedBytes: this.index.cachedBytes }
  }

  // ---- writes ----

  async append (entries: Entry[], hardState?: HardState, options: WriteOptions = {}): Promise<void> {
    validateEntries(entries)
    if (hardState != null) validateHardState(hardState)
    await this.enqueue({ kind: 'append', entries, hardState, sync: options.sync !== false || entries.length > 0 }, options)
  }

  async setHardState (hs: HardState, options: WriteOptions = {}): Promise<void> {
    validateHardState(hs)
    await this.enqueue({ kind: 'hardState', hardState: hs, sync: options.sync !== false }, options)
  }

  async compact (index: number, options: AbortOptions = {}): Promise<void> {
    if (!Number.isSafeInteger(index) || index < 0) throw new InvalidEntriesError('index', 'must be a safe integer >= 0')
    await this.enqueue({ kind: 'compact', index }, options)
  }

  async applySnapshot (snap: Snapshot, hardState?: HardState, options: AbortOptions = {}): Promise<void> {
    validateSnapshot(snap)
    if (hardState != null) validateHardState(hardState)
    await this.enqueue({ kind: 'applySnapshot', snapshot: snap, hardState }, options)
  }

  async createSnapshot (index: number, confState: ConfState, data: Uint8Array, options: AbortOptions = {}): Promise<Snapshot> {
    if (!Number.isSafeInteger(index) || index < 1) throw new InvalidEntriesError('index', 'must be a safe integer >= 1')
    validateConfState(confState)
    if (!(data instanceof Uint8Array)) throw new InvalidEntriesError('data', 'must be a Uint8Array')
    return await this.enqueue({ kind: 'createSnapshot', index, confState, data }, options) as Snapshot
  }

  async close (): Promise<void> {
    if (this.closing != null) return await this.closing
    this.closed = true
    this.closing = (async () => {
      while (this.pumping != null) await this.pumping
      if (this.hardStateDirty && this.failed == null) {
        try {
          const seg = await this.activeSegment()
          const enc = new BatchEncoder(128, true, seg.header.salt)
          enc.hardState(this.hardState)
          await this.writeBatch(seg, enc.finish(), 1)
          this.hardStateDirty = false
        } catch (err) {
          this.log?.error({ err }, 'could not write the last unsynced hard state on close')
        }
      }
      await Promise.all(this.segments.map(async s => { await s.file.close().catch(() => {}) }))
      await this.unlock()
    })()
    await this.closing
  }

  private async enqueue (fields: Record<string, unknown> & { kind: Op['kind'] }, options: AbortOptions): Promise<unknown> {
    if (this.closed) throw new StorageClosedError()
    if (this.failed != null) throw this.failed
    options.signal?.throwIfAborted()
    return await new Promise((resolve, reject) => {
      const op = { ...fields, resolve, reject, signal: options.signal } as Op
      if (op.signal != null) {
        op.onAbort = () => {
          const at = this.queue.indexOf(op)
          if (at >= 0) {
            this.queue.splice(at, 1)
            reject(op.signal?.reason as Error)
          }
        }
        op.signal.addEventListener('abort', op.onAbort, { once: true })
      }
      this.queue.push(op)
      this.pump()
    })
  }

  private pump (): void {
    if (this.pumping != null) return
    this.pumping = (async () => {
      try {
        while (this.queue.length > 0) {
          // let callers whose writes just completed (their continuations are
          // microtasks) queue their next write, so it joins this batch
          await new Promise<void>(resolve => setImmediate(resolve))
          if (this.queue.length === 0) break
          if (isSnapOp(this.queue[0])) {
            const op = this.queue.shift() as SnapOp
            this.detach(op)
            await this.runSnapshotOp(op)
          } else {
            const batch: LogOp[] = []
            while (this.queue.length > 0 && !isSnapOp(this.queue[0]) && (this.opts.groupCommit || batch.length === 0)) {
              const op = this.queue.shift() as LogOp
              this.detach(op)
              batch.push(op)
            }
            await this.runBatch(batch)
          }
        }
      } finally {
        this.pumping = undefined
      }
    })()
  }

  /** an op leaving the queue can no longer be aborted: it is being written */
  private detach (op: Op): void {
    if (op.onAbort != null) op.signal?.removeEventListener('abort', op.onAbort)
  }

  private fail (err: unknown, what: string): StorageFailedError {
    if (this.failed == null) {
      this.failed = new StorageFailedError(`${what} failed; reopen the storage to recover from disk: ${(err as Error).message}`, { cause: err })
      this.log?.error({ err }, `${what} failed: storage is now read-only until reopened`)
    }
    return this.failed
  }

  /** the segment to write to, rolling over first if it is full */
  private async activeSegment (): Promise<Segment> {
    const active = this.segments[this.segments.length - 1]
    if (active.size < this.opts.segmentBytes) return active
    const last = this.index.lastIndex()
    const next = await createSegment(this.fs, join(this.dir, 'wal'), {
      seq: active.seq + 1,
      prevIndex: last,
      prevTerm: this.index.term(last),
      compactIndex: this.index.dummyIndex,
      compactTerm: this.index.dummyTerm,
      snapIndex: this.snap.metadata.index,
      snapTerm: this.snap.metadata.term,
      hardState: { ...this.hardState }
    })
    this.segments.push(next)
    this.log?.debug({ seq: next.seq, firstIndex: last + 1 }, 'WAL segment rolled over')
    return next
  }

  private async writeBatch (seg: Segment, bytes: Uint8Array, records: number): Promise<void> {
    const started = performance.now()
    try {
      await seg.file.write(bytes, seg.size)
      await seg.file.datasync()
    } catch (err) {
      throw this.fail(err, 'WAL write')
    }
    seg.size += bytes.length
    this.counters.batches++
    this.counters.fsyncs++
    this.counters.records += records
    this.counters.bytes += bytes.length
    this.metrics?.fsyncs.inc(this.labels)
    this.metrics?.bytes.inc(this.labels, bytes.length)
    this.metrics?.batchRecords.observe(this.labels, records)
    this.metrics?.syncSeconds.observe(this.labels, (performance.now() - started) / 1000)
  }

  private async runBatch (ops: LogOp[]): Promise<void> {
    if (this.failed != null) {
      for (const op of ops) op.reject(this.failed)
      return
    }
    let seg: Segment
    try {
      seg = await this.activeSegment()
    } catch (err) {
      const failed = this.fail(err, 'WAL segment rollover')
      for (const op of ops) op.reject(failed)
      return
    }
    const enc = new BatchEncoder(16 * 1024, true, seg.header.salt)
    const accepted: LogOp[] = []
    const rejected: Array<[LogOp, Error]> = []
    let records = 0
    let compacted = false
    for (const op of ops) {
      try {
        switch (op.kind) {
          case 'append': records += this.stageAppend(op.entries, enc, seg); break
          case 'compact': this.stageCompact(op.index, enc); compacted = true; records++; break
          case 'hardState': break
        }
        const hs = op.kind === 'compact' ? undefined : op.hardState
        if (hs != null) {
          this.hardState = { ...hs }
          if (op.kind !== 'compact' && !op.sync) {
            // not required to be durable now (e.g. only the commit index moved): written with the next synced batch
            this.hardStateDirty = true
          } else {
            enc.hardState(hs)
            this.hardStateDirty = false
            records++
          }
        }
        accepted.push(op)
      } catch (err) {
        rejected.push([op, err as Error])
      }
    }
    for (const [op, err] of rejected) op.reject(err)
    if (enc.empty) {
      for (const op of accepted) op.resolve(undefined)
      return
    }
    if (this.hardStateDirty) {
      // a synced batch carries the newest hard state along (atomically, e.g. with a compaction)
      enc.hardState(this.hardState)
      this.hardStateDirty = false
      records++
    }
    const bytes = enc.finish()
    try {
      await this.writeBatch(seg, bytes, records)
    } catch (err) {
      for (const op of accepted) op.reject(err as Error)
      return
    }
    this.counters.writes += accepted.length
    this.index.evict()
    if (compacted) await this.dropObsoleteSegments()
    for (const op of accepted) op.resolve(undefined)
  }

  /** validate and apply one append to the index; returns the records encoded */
  private stageAppend (entries: Entry[], enc: BatchEncoder, seg: Segment): number {
    if (entries.length === 0) return 0
    const first = this.index.firstIndex()
    const last = this.index.lastIndex()
    if (entries[entries.length - 1].index < first) return 0 // all compacted already
    const from = Math.max(0, first - entries[0].index)
    if (entries[from].index > last + 1) {
      throw new InvalidEntriesError('entries[0].index', `${entries[from].index} would leave a gap after the last index ${last}`)
    }
    this.index.truncateAfter(entries[from].index - 1)
    for (let k = from; k < entries.length; k++) {
      const e = entries[k]
      const stored = this.cipher === undefined ? e.data : this.cipher.sealEntry(e.data, e.index, e.term)
      const at = enc.entry(e.index, e.term, e.type, stored)
      // cache a private copy: the caller may reuse its buffer
      this.index.push({ term: e.term, type: e.type, source: seg, offset: seg.size + at, length: stored.length, data: e.data.slice() })
    }
    return entries.length - from
  }

  private stageCompact (index: number, enc: BatchEncoder): void {
    if (index <= this.index.dummyIndex) throw new CompactedError(`cannot compact to ${index}: already compacted to ${this.index.dummyIndex}`)
    if (index > this.index.lastIndex()) throw new UnavailableError(`cannot compact to ${index}: last index is ${this.index.lastIndex()}`)
    enc.compact(index, this.index.term(index))
    this.index.compact(index)
  }

  /**
   * Delete the oldest segments while every entry they hold is compacted (the
   * next segment starts at or below the compaction point). Oldest first, with
   * a directory fsync after each, so a crash leaves a contiguous suffix.
   */
  private async dropObsoleteSegments (): Promise<void> {
    const walDir = join(this.dir, 'wal')
    while (this.segments.length > 1 && this.segments[1].header.prevIndex <= this.index.dummyIndex) {
      const old = this.segments[0]
      try {
        await old.file.close()
        await this.fs.unlink(old.path)
        await this.fs.syncDir(walDir)
      } catch (err) {
        this.log?.error({ err, file: old.path }, 'could not delete an obsolete WAL segment')
        return
      }
      this.segments.shift()
      this.log?.debug({ file: old.path }, 'deleted obsolete WAL segment')
    }
  }

  private async runSnapshotOp (op: SnapOp): Promise<void> {
    if (this.failed != null) {
      op.reject(this.failed)
      return
    }
    try {
      if (op.kind === 'applySnapshot') {
        await this.doApplySnapshot(op.snapshot, op.hardState)
        op.resolve(undefined)
      } else {
        op.resolve(await this.doCreateSnapshot(op.index, op.confState, op.data))
      }
    } catch (err) {
      op.reject(err as Error)
    }
  }

  private async doApplySnapshot (snap: Snapshot, hardState?: HardState): Promise<void> {
    const { index, term } = snap.metadata
    if (index <= this.snap.metadata.index) {
      throw new SnapshotOutOfDateError(`snapshot at ${index} is not newer than the current one at ${this.snap.metadata.index}`)
    }
    const copy: Snapshot = { metadata: { index, term, confState: structuredClone(snap.metadata.confState) }, data: snap.data.slice() }
    try {
      await this.snapshots.write(copy)
    } catch (err) {
      throw this.fail(err, 'snapshot write')
    }
    await this.writeSnapshotRecord('reset', index, term, hardState)
    this.snap = copy
    this.index.reset(index, term)
    this.counters.writes++
    await this.afterSnapshot()
  }

  private async doCreateSnapshot (index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot> {
    if (index <= this.snap.metadata.index) {
      throw new SnapshotOutOfDateError(`snapshot at ${index} is not newer than the current one at ${this.snap.metadata.index}`)
    }
    const term = this.index.term(index) // CompactedError / UnavailableError when out of range
    const snap: Snapshot = { metadata: { index, term, confState: structuredClone(confState) }, data: data.slice() }
    try {
      await this.snapshots.write(snap)
    } catch (err) {
      throw this.fail(err, 'snapshot write')
    }
    await this.writeSnapshotRecord('snapshot', index, term)
    this.snap = snap
    this.counters.writes++
    await this.afterSnapshot()
    return snap
  }

  private async afterSnapshot (): Promise<void> {
    try {
      await this.snapshots.prune(this.opts.keepSnapshots)
    } catch (err) {
      this.log?.error({ err }, 'could not prune old snapshots')
    }
    await this.dropObsoleteSegments()
  }
}
