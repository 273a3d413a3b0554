/**
 * Typed errors of the identity capability. Callers match on `name` or `code`,
 * never on message text. Every message is one line and, where a file is
 * involved, names the file and says how to fix it.
 */

export type IdentityErrorCode =
  | 'KEY_FILE_MISSING'
  | 'KEY_FILE_PERMISSIONS'
  | 'KEY_FILE_CORRUPT'
  | 'KEY_FILE_IO'
  | 'DATA_DIR_INVALID'
  | 'INVALID_DID'
  | 'UNSUPPORTED_KEY_TYPE'
  | 'JWT_VERIFICATION_FAILED'

/** Base class: every identity error has a stable `code`. */
export class IdentityError extends Error {
  readonly code: IdentityErrorCode

  constructor (code: IdentityErrorCode, message: string, options?: { cause?: unknown }) {
    super(oneLine(message), options)
    this.name = 'IdentityError'
    this.code = code
  }
}

/** `loadIdentity` found no key file. */
export class KeyFileMissingError extends IdentityError {
  readonly file: string
  constructor (file: string) {
    super('KEY_FILE_MISSING', `identity key file ${file} does not exist; run \`dcis start\` once to create one, or point --data-dir at the directory that holds it`)
    this.name = 'KeyFileMissingError'
    this.file = file
  }
}

/** The key file is readable or writable by group or others. */
export class KeyFilePermissionsError extends IdentityError {
  readonly file: string
  readonly mode: number
  constructor (file: string, mode: number) {
    super('KEY_FILE_PERMISSIONS', `identity key file ${file} is accessible by group or others (mode ${formatMode(mode)}); refusing to use it: fix with \`chmod 600 ${file}\``)
    this.name = 'KeyFilePermissionsError'
    this.file = file
    this.mode = mode
  }
}

/** The key file cannot be decoded, or holds a key that is not a valid Ed25519 key. */
export class KeyFileCorruptError extends IdentityError {
  readonly file: string
  readonly reason: string
  constructor (file: string, reason: string, options?: { cause?: unknown }) {
    super('KEY_FILE_CORRUPT', `identity key file ${file} is corrupt (${reason}); restore it from a backup, or move it away to create a new identity (the peer id and DID will change)`, options)
    this.name = 'KeyFileCorruptError'
    this.file = file
    this.reason = reason
  }
}

/** Reading or writing the key file failed for an operating-system reason. */
export class KeyFileIoError extends IdentityError {
  readonly file: string
  constructor (file: string, action: string, cause: unknown) {
    super('KEY_FILE_IO', `cannot ${action} identity key file ${file}: ${errorText(cause)}`, { cause })
    this.name = 'KeyFileIoError'
    this.file = file
  }
}

/** The data directory exists but is not a directory, or cannot be created. */
export class DataDirError extends IdentityError {
  readonly dir: string
  constructor (dir: string, reason: string, cause?: unknown) {
    super('DATA_DIR_INVALID', `data directory ${dir} is unusable: ${reason}`, { cause })
    this.name = 'DataDirError'
    this.dir = dir
  }
}

/** A string is not a did:key of an Ed25519 public key. */
export class InvalidDidError extends IdentityError {
  readonly did: string
  readonly reason: string
  constructor (did: string, reason: string) {
    super('INVALID_DID', `invalid did:key ${JSON.stringify(truncate(did, 80))}: ${reason}`)
    this.name = 'InvalidDidError'
    this.did = did
    this.reason = reason
  }
}

/** A peer id or key of a type other than Ed25519 was given where Ed25519 is required. */
export class UnsupportedKeyTypeError extends IdentityError {
  readonly keyType: string
  constructor (keyType: string, what: string) {
    super('UNSUPPORTED_KEY_TYPE', `${what}: key type ${keyType} is not supported, only Ed25519`)
    this.name = 'UnsupportedKeyTypeError'
    this.keyType = keyType
  }
}

export type JwtFailureReason =
  | 'malformed'
  | 'unsupported-algorithm'
  | 'unsupported-did'
  | 'bad-signature'
  | 'expired'
  | 'not-yet-valid'
  | 'wrong-audience'

/** A JWT failed verification; `reason` says why. */
export class JwtVerificationError extends IdentityError {
  readonly reason: JwtFailureReason
  constructor (reason: JwtFailureReason, detail: string, options?: { cause?: unknown }) {
    super('JWT_VERIFICATION_FAILED', `JWT rejected (${reason}): ${detail}`, options)
    this.name = 'JwtVerificationError'
    this.reason = reason
  }
}

function formatMode (mode: number): string {
  return '0' + (mode & 0o777).toString(8).padStart(3, '0')
}

function truncate (s: string, n: number): string {
  return s.length > n ? s.slice(0, n) + '…' : s
}

export function errorText (err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code
    return code != null ? `${code}: ${err.message}` : err.message
  }
  return String(err)
}

function oneLine (s: string): string {
  return s.replace(/[\r\n]+/g, ' ')
}
