/** A catalogue key or value (from the network, the disk or a caller) that is not a valid record. */
export class CatalogueRecordError extends Error {
  static readonly code = 'CATALOGUE_RECORD_INVALID'
  readonly code = CatalogueRecordError.code
  /** the key (or field) that was wrong */
  readonly field: string
  constructor (field: string, message: string) {
    super(`${field}: ${message}`)
    this.name = 'CatalogueRecordError'
    this.field = field
  }
}

/** A call on a catalogue that is not started. */
export class CatalogueNotStartedError extends Error {
  static readonly code = 'CATALOGUE_NOT_STARTED'
  readonly code = CatalogueNotStartedError.code
  constructor () {
    super('the catalogue is not started')
    this.name = 'CatalogueNotStartedError'
  }
}

/** A function or version the catalogue does not hold. */
export class CatalogueNotFoundError extends Error {
  static readonly code = 'FUNCTION_NOT_FOUND'
  readonly code = CatalogueNotFoundError.code
  constructor (what: string) {
    super(`no function named or with id ${JSON.stringify(what)} is in the catalogue`)
    this.name = 'CatalogueNotFoundError'
  }
}

/** The persisted catalogue file could not be read or written. */
export class CatalogueStorageError extends Error {
  static readonly code = 'CATALOGUE_STORAGE'
  readonly code = CatalogueStorageError.code
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'CatalogueStorageError'
  }
}

/** A rollout decision about a rollout that another one has replaced meanwhile. */
export class RolloutConflictError extends Error {
  static readonly code = 'ROLLOUT_CONFLICT'
  readonly code = RolloutConflictError.code
  constructor (name: string, expected: string, found: string | undefined) {
    super(`the rollout of ${name} is ${found ?? 'gone'}, not ${expected}`)
    this.name = 'RolloutConflictError'
  }
}
