/** Typed errors of encryption at rest; the `code` names the failure. */

/** The keyring cannot be unwrapped: a wrong passphrase, identity or transit key. Stops the peer. */
export class WrongKeyError extends Error {
  static readonly code = 'WRONG_KEY'
  readonly code = WrongKeyError.code
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'WrongKeyError'
  }
}

/** The keyring file is missing a key or is malformed. */
export class KeyringError extends Error {
  static readonly code = 'KEYRING_INVALID'
  readonly code = KeyringError.code
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'KeyringError'
  }
}

/** A sealed record names a key id the keyring does not hold. */
export class UnknownKeyError extends Error {
  static readonly code = 'UNKNOWN_KEY'
  readonly code = UnknownKeyError.code
  constructor (readonly keyId: string, readonly context: string) {
    super(`record ${context} is sealed with key ${keyId}, which the keyring does not hold`)
    this.name = 'UnknownKeyError'
  }
}

/**
 * A stored record failed authentication (altered bytes, moved to another
 * record's place, or not sealed at all): it is reported, never returned.
 */
export class TamperedRecordError extends Error {
  static readonly code = 'TAMPERED_RECORD'
  readonly code = TamperedRecordError.code
  constructor (readonly context: string, reason: string) {
    super(`record ${context} failed authentication: ${reason}`)
    this.name = 'TamperedRecordError'
  }
}

/** The transit (KMS) service refused or failed a request. */
export class KeyProviderError extends Error {
  static readonly code = 'KEY_PROVIDER_FAILED'
  readonly code = KeyProviderError.code
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'KeyProviderError'
  }
}

/** status of each error name for the HTTP layer (a tampered record is the node's own fault) */
export const PROTECTION_ERROR_STATUS: Readonly<Record<string, number>> = {
  TamperedRecordError: 500,
  UnknownKeyError: 500,
  KeyProviderError: 503
}
