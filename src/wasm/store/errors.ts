/**
 * Typed errors of the function store (`name` + `code`; the HTTP layer maps
 * names to statuses, see FUNCTION_STORE_ERROR_STATUS).
 */
export class FunctionStoreError extends Error {
  readonly code: string
  constructor (code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'FunctionStoreError'
    this.code = code
  }
}

/** No function of that name or CID is known to this peer (HTTP 404). */
export class UnknownFunctionError extends FunctionStoreError {
  readonly ref: string
  constructor (ref: string) {
    super('FUNCTION_NOT_FOUND', `no function named or with id ${JSON.stringify(ref)} is known to this peer`)
    this.name = 'UnknownFunctionError'
    this.ref = ref
  }
}

/** A deploy parameter (query string, manifest field) is malformed; `field` names it (HTTP 400). */
export class InvalidFunctionRequestError extends FunctionStoreError {
  readonly field: string
  constructor (field: string, message: string) {
    super('INVALID_FUNCTION_REQUEST', `${field}: ${message}`)
    this.name = 'InvalidFunctionRequestError'
    this.field = field
  }
}

/** The module bytes could not be had, locally or from a provider over bitswap, in time (HTTP 504). */
export class ModuleUnavailableError extends FunctionStoreError {
  readonly id: string
  constructor (id: string, options?: { cause?: unknown }) {
    super('MODULE_UNAVAILABLE', `the module ${id} is not on this peer and could not be fetched from a provider`, options)
    this.name = 'ModuleUnavailableError'
    this.id = id
  }
}

/** The persisted index entry for a name is corrupt (HTTP 500: the node's own fault). */
export class CorruptIndexError extends FunctionStoreError {
  constructor (key: string, message: string) {
    super('CORRUPT_FUNCTION_INDEX', `function index entry ${key}: ${message}`)
    this.name = 'CorruptIndexError'
  }
}

export const FUNCTION_STORE_ERROR_STATUS: Readonly<Record<string, number>> = Object.freeze({
  UnknownFunctionError: 404,
  InvalidFunctionRequestError: 400,
  ModuleUnavailableError: 504,
  CorruptIndexError: 500
})
