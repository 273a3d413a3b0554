export class ServiceNotFoundError extends Error {
  static readonly code = 'SERVICE_NOT_FOUND'
  readonly code = ServiceNotFoundError.code
  constructor (name: string) {
    super(`no service named ${name}`)
    this.name = 'ServiceNotFoundError'
  }
}

export class KeyNotFoundError extends Error {
  static readonly code = 'KEY_NOT_FOUND'
  readonly code = KeyNotFoundError.code
  constructor (service: string, key: string) {
    super(`no key ${JSON.stringify(key)} in service ${service}`)
    this.name = 'KeyNotFoundError'
  }
}

export class RevisionMismatchError extends Error {
  static readonly code = 'REVISION_MISMATCH'
  readonly code = RevisionMismatchError.code
  readonly actual: number
  constructor (key: string, expected: number, actual: number) {
    super(`revision of ${JSON.stringify(key)} is ${actual}, not ${expected}`)
    this.name = 'RevisionMismatchError'
    this.actual = actual
  }
}

/** The service's consistency mode has no backend on this peer (yet). */
export class BackendUnavailableError extends Error {
  static readonly code = 'BACKEND_UNAVAILABLE'
  readonly code = BackendUnavailableError.code
  constructor (mode: string) {
    super(`consistency.mode ${mode} is not available on this peer yet`)
    this.name = 'BackendUnavailableError'
  }
}

/** A service already exists under the other consistency mode. */
export class ServiceConflictError extends Error {
  static readonly code = 'SERVICE_CONFLICT'
  readonly code = ServiceConflictError.code
  constructor (message: string) {
    super(message)
    this.name = 'ServiceConflictError'
  }
}

/** An operation the service's backend does not offer (e.g. counters on a strong KV). */
export class OperationNotSupportedError extends Error {
  static readonly code = 'OPERATION_NOT_SUPPORTED'
  readonly code = OperationNotSupportedError.code
  constructor (message: string) {
    super(message)
    this.name = 'OperationNotSupportedError'
  }
}

/** The peer that holds the data refused a forwarded call: the caller's token lacks the right there. */
export class ForwardForbiddenError extends Error {
  static readonly code = 'FORBIDDEN'
  readonly code = ForwardForbiddenError.code
  constructor (message: string) {
    super(message)
    this.name = 'ForwardForbiddenError'
  }
}

/** The service could not answer in time (no leader, no reachable replica). */
export class ServiceUnavailableError extends Error {
  static readonly code = 'SERVICE_UNAVAILABLE'
  readonly code = ServiceUnavailableError.code
  constructor (message: string) {
    super(message)
    this.name = 'ServiceUnavailableError'
  }
}

export const SERVICE_ERROR_STATUS: Readonly<Record<string, number>> = {
  ServiceNotFoundError: 404,
  KeyNotFoundError: 404,
  RevisionMismatchError: 409,
  BackendUnavailableError: 422,
  ServiceConflictError: 409,
  OperationNotSupportedError: 422,
  ServiceUnavailableError: 503,
  ForwardForbiddenError: 403,
  RaftForbiddenError: 403
}
