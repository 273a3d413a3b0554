/** A manifest that does not parse or validate; `field` names the offending path. */
export class ManifestError extends Error {
  static readonly code = 'INVALID_MANIFEST'
  readonly code = ManifestError.code
  readonly field: string
  constructor (field: string, reason: string, index?: number) {
    super(`${index != null ? `document ${index + 1}: ` : ''}${field === '' ? '(root)' : field}: ${reason}`)
    this.name = 'ManifestError'
    this.field = field
  }
}

/** A valid manifest that this peer has no backend for (yet). */
export class KindNotSupportedError extends Error {
  static readonly code = 'KIND_NOT_SUPPORTED'
  readonly code = KindNotSupportedError.code
  constructor (message: string) {
    super(message)
    this.name = 'KindNotSupportedError'
  }
}
