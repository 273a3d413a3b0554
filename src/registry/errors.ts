/**
 * Why a descriptor was not believed. Every path a descriptor arrives by
 * (gossip, DHT, sync from a neighbour, HTTP) reports one of these, and the
 * registry counts rejections by reason.
 */
export type RejectReason =
  | 'oversized'
  | 'malformed'
  | 'bad-signature'
  | 'unsupported-did'
  | 'not-a-descriptor'
  | 'schema'
  | 'issuer-mismatch'
  | 'peer-mismatch'
  | 'key-mismatch'
  | 'expired'
  | 'future'
  | 'stale'

export const REJECT_REASONS: readonly RejectReason[] = [
  'oversized', 'malformed', 'bad-signature', 'unsupported-did', 'not-a-descriptor', 'schema',
  'issuer-mismatch', 'peer-mismatch', 'key-mismatch', 'expired', 'future', 'stale'
]

export class DescriptorRejectedError extends Error {
  static readonly code = 'DESCRIPTOR_REJECTED'
  readonly code = DescriptorRejectedError.code
  readonly reason: RejectReason
  constructor (reason: RejectReason, message: string, options?: { cause?: unknown }) {
    super(`descriptor rejected (${reason}): ${message}`, options)
    this.name = 'DescriptorRejectedError'
    this.reason = reason
  }
}

/** No verified descriptor is known for a peer, locally or in the DHT. */
export class DescriptorNotFoundError extends Error {
  static readonly code = 'DESCRIPTOR_NOT_FOUND'
  readonly code = DescriptorNotFoundError.code
  constructor (peerId: string) {
    super(`no verified descriptor for ${peerId}`)
    this.name = 'DescriptorNotFoundError'
  }
}
