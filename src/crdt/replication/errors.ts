/** A replication frame (gossip message, sync or RPC frame) that failed strict decoding or validation. */
export class ReplicationFrameError extends Error {
  static readonly code = 'CRDT_FRAME_INVALID'
  readonly code = ReplicationFrameError.code
  /** the field that was wrong */
  readonly field: string
  constructor (field: string, message: string) {
    super(`${field}: ${message}`)
    this.name = 'ReplicationFrameError'
    this.field = field
  }
}

/** A catalogue entry whose JSON does not describe a valid service placement. */
export class CatalogueEntryError extends Error {
  static readonly code = 'CRDT_CATALOGUE_ENTRY_INVALID'
  readonly code = CatalogueEntryError.code
  readonly field: string
  constructor (field: string, message: string) {
    super(`${field}: ${message}`)
    this.name = 'CatalogueEntryError'
    this.field = field
  }
}

/** No peer of the registry can hold a replica of the service. */
export class PlacementError extends Error {
  static readonly code = 'CRDT_PLACEMENT_FAILED'
  readonly code = PlacementError.code
  constructor (message: string) {
    super(message)
    this.name = 'PlacementError'
  }
}
