/**
 * Durable Raft log storage: a segmented write-ahead log with per-record
 * CRC-32C, group commit (one write + fdatasync per batch of concurrent
 * calls), torn-tail truncation on recovery, and atomically written snapshots.
 *
 * Directory layout (`dir` is owned by one storage instance):
 *
 *   <dir>/LOCK                                 owner pid (stale locks of dead pids are taken over)
 *   <dir>/wal/<seq>-<firstIndex>.seg           segments (16 hex digits each), size-rolled
 *   <dir>/snap/<index>-<term>.snap             newest 2 snapshots
 *
 * Guarantees (checked by test/raft/storage: compliance, recovery, SimFs
 * power-loss simulation, SIGKILL test):
 * - a write call that resolved survives process and machine crashes
 *   (fdatasync; new files and renames are followed by a directory fsync);
 * - every write call is atomic across a crash: after reopening, the log is
 *   the acknowledged state, plus possibly whole calls that were in flight;
 * - damage that could hide acknowledged data (anything but a torn final
 *   write) makes open() fail with WalCorruptionError / SnapshotCorruptionError
 *   instead of silently dropping data;
 * - unsynced hard-state updates ({ sync: false }) may be lost in a crash.
 *
 * Usage from a Raft driver (persist before send):
 *
 *   const storage = await openFileLogStorage(dir, { logger })
 *   // for each Ready:
 *   if (rd.snapshot) await storage.applySnapshot(rd.snapshot, rd.hardState)
 *   await storage.append(rd.entries, rd.hardState, { sync: rd.mustSync })
 *   // then send rd.messages, apply rd.committedEntries
 */
import type { AbortOptions } from '@libp2p/interface'
import type { Logger } from '../../telemetry/index.js'
import type { ConfState, Entry, HardState, LogStorage, Snapshot } from '../core/types.js'
import { FileLogStorage } from './file-log-storage.js'
import type { WalFs } from './fs.js'
import type { WalMetrics } from './metrics.js'

export interface WriteOptions extends AbortOptions {
  /**
   * false: the hard state need not be durable when the call resolves (Raft's
   * `mustSync` is false: only the commit index moved). It is written with the
   * next synced write (or on close) and may be lost in a crash, so the commit
   * index can go back after a restart (safe in Raft). Ignored when entries
   * are given: entries are always synced. Default true.
   */
  sync?: boolean
}

/**
 * Writes are applied in call order. `options.signal` can cancel a call only
 * while it is still queued; once its batch is being written it completes.
 * A rejected write (validation, out-of-range) leaves the log unchanged; a
 * StorageFailedError (I/O) means: reopen.
 */
export interface DurableLogStorage extends LogStorage {
  /**
   * Append entries (entries at or below the compaction point are ignored; an
   * entry at an index already present replaces it and everything after it),
   * then set the hard state if given. Resolves once durable (fdatasync).
   * Rejects with InvalidEntriesError for malformed entries or a gap.
   */
  append (entries: Entry[], hardState?: HardState, options?: WriteOptions): Promise<void>
  setHardState (hs: HardState, options?: WriteOptions): Promise<void>
  /**
   * Replace the whole log by `snap` (written atomically first, then recorded
   * in the WAL together with `hardState` if given, in one atomic batch: pass
   * the Ready's hard state so its commit >= snap index is never lost apart
   * from the snapshot). SnapshotOutOfDateError if not newer than the current one.
   */
  applySnapshot (snap: Snapshot, hardState?: HardState, options?: AbortOptions): Promise<void>
  /**
   * Persist a snapshot of the application state at `index` (<= lastIndex)
   * without touching the log; returns it. Follow with `compact` to free the log.
   */
  createSnapshot (index: number, confState: ConfState, data: Uint8Array, options?: AbortOptions): Promise<Snapshot>
  /** Drop entries <= index; whole segments below it are deleted. CompactedError / UnavailableError out of range. */
  compact (index: number, options?: AbortOptions): Promise<void>
  /** Finish queued writes, then release files. Idempotent. */
  close (): Promise<void>
}

export interface FileLogStorageOptions {
  /** roll to a new segment once the current one reaches this size (default 32 MiB) */
  segmentBytes?: number
  /** bytes of entry data kept in memory for reads, newest first (default 32 MiB); older entries are read from disk */
  cacheBytes?: number
  /** snapshot files to keep (default 2) */
  keepSnapshots?: number
  logger?: Logger
  /** shared metrics from createWalMetrics(registry), labelled with `group` */
  metrics?: WalMetrics
  /** label for logs and metrics, e.g. the Raft group id */
  group?: string
  /** batch concurrent writes into one fsync (default true; false = one fsync per call, for benchmarks) */
  groupCommit?: boolean
  /** file-system operations (tests inject faults); default node:fs */
  fs?: WalFs
  /** encryption at rest of entry data and snapshots (src/protection/wal.ts); none = clear */
  cipher?: WalCipher
}

/**
 * Seals what a WAL stores for its users at the record boundary: the data of
 * each entry (bound to its index and term) and each snapshot file (bound to
 * its index and term). Record framing, checksums, batching and fsync are
 * unchanged; opening throws on any record that fails authentication.
 */
export interface WalCipher {
  /** bytes sealing adds to each entry's data (constant: maxBytes limits count the data itself) */
  readonly overhead: number
  sealEntry (data: Uint8Array, index: number, term: number): Uint8Array
  openEntry (sealed: Uint8Array, index: number, term: number): Uint8Array
  sealSnapshot (bytes: Uint8Array, index: number, term: number): Uint8Array
  openSnapshot (sealed: Uint8Array, index: number, term: number): Uint8Array
}

export interface WalStats {
  /** write batches made durable (one write + one fdatasync each) */
  batches: number
  /** fdatasync/fsync calls on segment files */
  fsyncs: number
  /** append/setHardState/compact calls acknowledged */
  writes: number
  records: number
  bytes: number
  segments: number
  cachedBytes: number
}

export interface FileLogStorageApi extends DurableLogStorage {
  readonly dir: string
  stats (): WalStats
}

export async function openFileLogStorage (dir: string, options: FileLogStorageOptions = {}): Promise<FileLogStorageApi> {
  return await FileLogStorage.open(dir, options)
}

export { createWalMetrics } from './metrics.js'
export type { WalMetrics } from './metrics.js'
export type { WalFs, WalFile } from './fs.js'
export { nodeWalFs } from './fs.js'
export { crc32c, crc32cUpdate } from './crc32c.js'
export {
  WalCorruptionError, SnapshotCorruptionError, StorageClosedError, StorageFailedError,
  InvalidEntriesError, StorageLockedError
} from './errors.js'
export { FileLogStorage }
export { MemoryDurableLogStorage } from './memory-durable.js'
