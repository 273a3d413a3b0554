/** A frame from the network that cannot be accepted (names the offending field). */
export class InvalidRaftFrameError extends Error {
  static readonly code = 'INVALID_RAFT_FRAME'
  readonly code = InvalidRaftFrameError.code
  readonly field: string
  constructor (field: string, reason: string) {
    super(`invalid raft frame: ${field} ${reason}`)
    this.name = 'InvalidRaftFrameError'
    this.field = field
  }
}

/** The transport is not started (or already stopped). */
export class TransportStoppedError extends Error {
  static readonly code = 'RAFT_TRANSPORT_STOPPED'
  readonly code = TransportStoppedError.code
  constructor () {
    super('raft transport is not running')
    this.name = 'TransportStoppedError'
  }
}
