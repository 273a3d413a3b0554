/** The DHT found no addresses for a peer id. */
export class PeerNotFoundError extends Error {
  static readonly code = 'PEER_NOT_FOUND'
  readonly code = PeerNotFoundError.code
  constructor (peerId: string) {
    super(`no peer ${peerId} found in the DHT`)
    this.name = 'PeerNotFoundError'
  }
}

/** A block could not be fetched from this peer's store or the network in time. */
export class BlockNotFoundError extends Error {
  static readonly code = 'BLOCK_NOT_FOUND'
  readonly code = BlockNotFoundError.code
  constructor (cid: string) {
    super(`block ${cid} was not found locally or from connected peers in time`)
    this.name = 'BlockNotFoundError'
  }
}

/** A peer id, CID or topic in a request did not parse. */
export class InvalidIdentifierError extends Error {
  static readonly code = 'INVALID_IDENTIFIER'
  readonly code = InvalidIdentifierError.code
  constructor (what: string, value: string, reason: string) {
    super(`${what}: ${JSON.stringify(value.slice(0, 100))} ${reason}`)
    this.name = 'InvalidIdentifierError'
  }
}
