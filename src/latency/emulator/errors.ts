/** The emulator was configured with something it cannot use (names the field). */
export class LinkEmulatorConfigError extends Error {
  static readonly code = 'LINK_EMULATOR_CONFIG'
  readonly code = LinkEmulatorConfigError.code
  readonly field: string
  constructor (field: string, message: string) {
    super(`${field}: ${message}`)
    this.name = 'LinkEmulatorConfigError'
    this.field = field
  }
}

export type PreambleErrorReason =
  | 'BAD_MAGIC'
  | 'BAD_VERSION'
  | 'BAD_REGION_LENGTH'
  | 'BAD_REGION_CHARS'

/** The remote's preamble is malformed: the connection is dropped. */
export class PreambleError extends Error {
  static readonly code = 'LINK_EMULATOR_BAD_PREAMBLE'
  readonly code = PreambleError.code
  readonly reason: PreambleErrorReason
  constructor (reason: PreambleErrorReason, message: string) {
    super(message)
    this.name = 'PreambleError'
    this.reason = reason
  }
}

/** The remote did not complete the preamble exchange in time. */
export class PreambleTimeoutError extends Error {
  static readonly code = 'LINK_EMULATOR_PREAMBLE_TIMEOUT'
  readonly code = PreambleTimeoutError.code
  constructor (timeoutMs: number) {
    super(`no preamble from the remote within ${timeoutMs} ms`)
    this.name = 'PreambleTimeoutError'
  }
}

/** The raw connection closed (or was aborted) before the preamble exchange finished. */
export class PreambleAbortedError extends Error {
  static readonly code = 'LINK_EMULATOR_PREAMBLE_ABORTED'
  readonly code = PreambleAbortedError.code
  constructor (message = 'connection closed during the preamble exchange') {
    super(message)
    this.name = 'PreambleAbortedError'
  }
}

/** A link fault ("block" rule) held a connection too long or too much: it is reset, as TCP gives up. */
export class LinkFaultResetError extends Error {
  static readonly code = 'LINK_EMULATOR_FAULT_RESET'
  readonly code = LinkFaultResetError.code
  constructor (message: string) {
    super(message)
    this.name = 'LinkFaultResetError'
  }
}
