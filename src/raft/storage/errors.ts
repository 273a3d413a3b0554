/**
 * Typed errors of the durable Raft log. Callers match on `name` or `code`,
 * never on message text.
 */

interface CorruptionDetails {
  /** file the damage was found in */
  file: string
  /** byte offset of the damaged record (or -1 when the whole file is at fault) */
  offset: number
}

/**
 * The write-ahead log is damaged somewhere other than its unacknowledged tail:
 * opening would drop or invent acknowledged data, so it refuses.
 */
export class WalCorruptionError extends Error {
  static readonly code = 'RAFT_WAL_CORRUPTION'
  readonly code = WalCorruptionError.code
  readonly file: string
  readonly offset: number
  constructor (message: string, details: CorruptionDetails) {
    super(`${message} (${details.file} @ ${details.offset})`)
    this.name = 'WalCorruptionError'
    this.file = details.file
    this.offset = details.offset
  }
}

/** A snapshot file failed its checksum or format check and no usable fallback exists. */
export class SnapshotCorruptionError extends Error {
  static readonly code = 'RAFT_SNAPSHOT_CORRUPTION'
  readonly code = SnapshotCorruptionError.code
  readonly file: string
  constructor (message: string, file: string) {
    super(`${message} (${file})`)
    this.name = 'SnapshotCorruptionError'
    this.file = file
  }
}

/** The storage was closed; no further writes are accepted. */
export class StorageClosedError extends Error {
  static readonly code = 'RAFT_STORAGE_CLOSED'
  readonly code = StorageClosedError.code
  constructor (message = 'log storage is closed') {
    super(message)
    this.name = 'StorageClosedError'
  }
}

/**
 * A write or fsync failed. After a failed fsync the kernel may have dropped
 * dirty pages, so the in-memory view can no longer be trusted to match the
 * disk: the storage refuses all further writes until it is reopened (which
 * recovers from what is really on disk).
 */
export class StorageFailedError extends Error {
  static readonly code = 'RAFT_STORAGE_FAILED'
  readonly code = StorageFailedError.code
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'StorageFailedError'
  }
}

/** Entries handed to `append` are malformed (non-contiguous, bad field) or would leave a gap in the log. */
export class InvalidEntriesError extends Error {
  static readonly code = 'RAFT_INVALID_ENTRIES'
  readonly code = InvalidEntriesError.code
  /** the offending field, e.g. `entries[3].index` */
  readonly field: string
  constructor (field: string, message: string) {
    super(`${field}: ${message}`)
    this.name = 'InvalidEntriesError'
    this.field = field
  }
}

/** Another live process (or another open instance) holds the storage directory. */
export class StorageLockedError extends Error {
  static readonly code = 'RAFT_STORAGE_LOCKED'
  readonly code = StorageLockedError.code
  constructor (message: string) {
    super(message)
    this.name = 'StorageLockedError'
  }
}
