/** Errors raised by the Raft core (the log/storage errors live in errors.ts). */

/** A proposal could not be accepted (no leader known, leadership transfer in progress, node removed...). */
export class ProposalDroppedError extends Error {
  static readonly code = 'RAFT_PROPOSAL_DROPPED'
  readonly code = ProposalDroppedError.code
  constructor (message = 'raft proposal dropped') {
    super(message)
    this.name = 'ProposalDroppedError'
  }
}

/** A message from the network is malformed; `field` names the offending field. */
export class InvalidMessageError extends Error {
  static readonly code = 'RAFT_INVALID_MESSAGE'
  readonly code = InvalidMessageError.code
  constructor (readonly field: string, message: string) {
    super(`invalid raft message: ${field}: ${message}`)
    this.name = 'InvalidMessageError'
  }
}

/** A configuration change that cannot be applied (bad encoding, would remove every voter, ...). */
export class InvalidConfChangeError extends Error {
  static readonly code = 'RAFT_INVALID_CONF_CHANGE'
  readonly code = InvalidConfChangeError.code
  constructor (message: string) {
    super(`invalid conf change: ${message}`)
    this.name = 'InvalidConfChangeError'
  }
}

/** Bad options passed to createRaft(). */
export class InvalidRaftConfigError extends Error {
  static readonly code = 'RAFT_INVALID_CONFIG'
  readonly code = InvalidRaftConfigError.code
  constructor (readonly field: string, message: string) {
    super(`invalid raft config: ${field}: ${message}`)
    this.name = 'InvalidRaftConfigError'
  }
}

/** The RawNode API was used out of order (e.g. ready() twice without advance()). */
export class RaftUsageError extends Error {
  static readonly code = 'RAFT_USAGE'
  readonly code = RaftUsageError.code
  constructor (message: string) {
    super(message)
    this.name = 'RaftUsageError'
  }
}

/** The state read from storage at start-up is inconsistent (e.g. commit beyond the last entry). */
export class InvalidStorageStateError extends Error {
  static readonly code = 'RAFT_INVALID_STORAGE_STATE'
  readonly code = InvalidStorageStateError.code
  constructor (message: string) {
    super(message)
    this.name = 'InvalidStorageStateError'
  }
}
