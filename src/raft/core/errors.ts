/** The requested index is below the first retained entry (compacted into a snapshot). */
export class CompactedError extends Error {
  static readonly code = 'RAFT_LOG_COMPACTED'
  readonly code = CompactedError.code
  constructor (message = 'requested index is unavailable due to compaction') {
    super(message)
    this.name = 'CompactedError'
  }
}

/** The requested index is beyond the last entry of the log. */
export class UnavailableError extends Error {
  static readonly code = 'RAFT_LOG_UNAVAILABLE'
  readonly code = UnavailableError.code
  constructor (message = 'requested entry at index is unavailable') {
    super(message)
    this.name = 'UnavailableError'
  }
}

/** A snapshot older than the one already held was offered. */
export class SnapshotOutOfDateError extends Error {
  static readonly code = 'RAFT_SNAPSHOT_OUT_OF_DATE'
  readonly code = SnapshotOutOfDateError.code
  constructor (message = 'requested index is older than the existing snapshot') {
    super(message)
    this.name = 'SnapshotOutOfDateError'
  }
}
