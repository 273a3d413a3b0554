/** The group could not complete a proposal or read in time (no leader, lost leadership, partition). */
export class RaftTimeoutError extends Error {
  static readonly code = 'RAFT_TIMEOUT'
  readonly code = RaftTimeoutError.code
  constructor (what: string) {
    super(`raft ${what} timed out (no leader or no quorum)`)
    this.name = 'RaftTimeoutError'
  }
}

/** The group is stopped (or was never started). */
export class RaftGroupStoppedError extends Error {
  static readonly code = 'RAFT_GROUP_STOPPED'
  readonly code = RaftGroupStoppedError.code
  constructor (group: string) {
    super(`raft group ${group} is not running`)
    this.name = 'RaftGroupStoppedError'
  }
}

/** Persisting the log failed: the replica stops (restart to recover from the WAL). */
export class RaftStorageFailedError extends Error {
  static readonly code = 'RAFT_STORAGE_FAILED'
  readonly code = RaftStorageFailedError.code
  constructor (group: string, cause: unknown) {
    super(`raft group ${group}: storage failed: ${(cause as Error)?.message ?? String(cause)}`)
    this.name = 'RaftStorageFailedError'
  }
}

/** A leader-only operation (a membership change) was asked of a replica that is not the leader. */
export class RaftNotLeaderError extends Error {
  static readonly code = 'RAFT_NOT_LEADER'
  readonly code = RaftNotLeaderError.code
  readonly leader: string | null
  constructor (group: string, leader: string | null) {
    super(`raft group ${group}: this replica is not the leader${leader !== null ? ` (the leader is ${leader})` : ''}`)
    this.name = 'RaftNotLeaderError'
    this.leader = leader
  }
}
