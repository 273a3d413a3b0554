/** A peer id given to the latency service (API path/query, probe) does not parse. */
export class InvalidPeerIdError extends Error {
  static readonly code = 'INVALID_PEER_ID'
  readonly code = InvalidPeerIdError.code
  readonly field: string
  constructor (field: string, value: string) {
    super(`${field}: ${JSON.stringify(value.slice(0, 80))} is not a libp2p peer id`)
    this.name = 'InvalidPeerIdError'
    this.field = field
  }
}

/** Nothing is known about the RTT asked for (no probe, no gossiped state). */
export class LatencyUnknownError extends Error {
  static readonly code = 'LATENCY_UNKNOWN'
  readonly code = LatencyUnknownError.code
  readonly from: string
  readonly to: string
  constructor (from: string, to: string) {
    super(`no measurement or estimate of the RTT from ${from} to ${to}`)
    this.name = 'LatencyUnknownError'
    this.from = from
    this.to = to
  }
}

/** The latency service was used (probe) while not started. */
export class LatencyServiceNotStartedError extends Error {
  static readonly code = 'LATENCY_SERVICE_NOT_STARTED'
  readonly code = LatencyServiceNotStartedError.code
  constructor () {
    super('the latency service is not started')
    this.name = 'LatencyServiceNotStartedError'
  }
}

/** A probe of a peer failed (unreachable, timeout, protocol error). */
export class ProbeFailedError extends Error {
  static readonly code = 'LATENCY_PROBE_FAILED'
  readonly code = ProbeFailedError.code
  readonly peerId: string
  constructor (peerId: string, cause: unknown) {
    super(`ping of ${peerId} failed: ${(cause as Error)?.message ?? String(cause)}`, { cause })
    this.name = 'ProbeFailedError'
    this.peerId = peerId
  }
}
