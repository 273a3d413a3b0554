export type CredentialRejectReason =
  | 'malformed'
  | 'bad-signature'
  | 'unknown-issuer'
  | 'wrong-subject'
  | 'wrong-federation'
  | 'expired'
  | 'future'
  | 'revoked'

export const CREDENTIAL_REJECT_REASONS: readonly CredentialRejectReason[] = [
  'malformed', 'bad-signature', 'unknown-issuer', 'wrong-subject', 'wrong-federation', 'expired', 'future', 'revoked'
]

/** A federation credential or revocation list that is not believed. */
export class CredentialRejectedError extends Error {
  static readonly code = 'CREDENTIAL_REJECTED'
  readonly code = CredentialRejectedError.code
  readonly reason: CredentialRejectReason
  constructor (reason: CredentialRejectReason, message: string, options?: { cause?: unknown }) {
    super(`credential rejected (${reason}): ${message}`, options)
    this.name = 'CredentialRejectedError'
    this.reason = reason
  }
}

/** A trust-anchors file that does not parse or validate. */
export class TrustAnchorsError extends Error {
  static readonly code = 'INVALID_TRUST_ANCHORS'
  readonly code = TrustAnchorsError.code
  constructor (file: string, reason: string) {
    super(`trust anchors ${file}: ${reason}`)
    this.name = 'TrustAnchorsError'
  }
}
