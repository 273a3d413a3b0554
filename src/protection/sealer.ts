/**
 * AES-256-GCM sealing of stored records (node:crypto).
 *
 * A sealed record is
 *
 *   [0xD5][0x01][kid length u8][kid utf8][nonce 12][ciphertext][tag 16]
 *
 * with a fresh random 96-bit nonce per record, and as additional
 * authenticated data the format tag, the key id and the record's identity
 * (its datastore key, its WAL group/index/term, ...): a record moved to
 * another place, sealed under another key id, or altered in any bit fails
 * to open. Nothing that fails authentication is ever returned.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { TamperedRecordError, UnknownKeyError } from './errors.js'

export const SEAL_MAGIC = 0xd5
export const SEAL_VERSION = 0x01
const NONCE_BYTES = 12
const TAG_BYTES = 16
const KEY_BYTES = 32
const AAD_PREFIX = Buffer.from('dcis-seal/1\0')
const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** The keys a sealer uses: one active for new records, all for opening. */
export interface SealingKeys {
  /** id of the key new records are sealed with */
  readonly activeId: string
  /** the 32-byte key of `id`, or undefined */
  key (id: string): Uint8Array | undefined
}

/** Whether `bytes` starts like a sealed record (a cheap check, not authentication). */
export function looksSealed (bytes: Uint8Array): boolean {
  return bytes.byteLength >= 3 && bytes[0] === SEAL_MAGIC && bytes[1] === SEAL_VERSION
}

export class Sealer {
  constructor (private readonly keys: SealingKeys) {}

  get activeKeyId (): string {
    return this.keys.activeId
  }

  /** bytes a sealed record adds to its plaintext under the active key (constant for the keyring's fixed-width ids) */
  get overhead (): number {
    return 3 + encoder.encode(this.keys.activeId).byteLength + NONCE_BYTES + TAG_BYTES
  }

  /** Seals `plain` for the record `context` (its identity: a key, a group+index, ...). */
  seal (plain: Uint8Array, context: string | Uint8Array): Uint8Array {
    const kid = this.keys.activeId
    const key = this.keys.key(kid)
    if (key === undefined || key.byteLength !== KEY_BYTES) throw new UnknownKeyError(kid, contextText(context))
    const kidBytes = encoder.encode(kid)
    const nonce = randomBytes(NONCE_BYTES)
    const cipher = createCipheriv('aes-256-gcm', key, nonce)
    cipher.setAAD(aad(kidBytes, context))
    const head = 3 + kidBytes.byteLength
    const out = new Uint8Array(head + NONCE_BYTES + plain.byteLength + TAG_BYTES)
    out[0] = SEAL_MAGIC
    out[1] = SEAL_VERSION
    out[2] = kidBytes.byteLength
    out.set(kidBytes, 3)
    out.set(nonce, head)
    const body = cipher.update(plain)
    out.set(body, head + NONCE_BYTES)
    const fin = cipher.final()
    if (fin.byteLength > 0) out.set(fin, head + NONCE_BYTES + body.byteLength)
    out.set(cipher.getAuthTag(), head + NONCE_BYTES + plain.byteLength)
    return out
  }

  /** The key id a sealed record names (throws TamperedRecordError when it is not a sealed record). */
  keyIdOf (sealed: Uint8Array, context: string | Uint8Array = ''): string {
    if (!looksSealed(sealed)) throw new TamperedRecordError(contextText(context), 'not a sealed record')
    const kidLen = sealed[2]
    if (kidLen === 0 || sealed.byteLength < 3 + kidLen + NONCE_BYTES + TAG_BYTES) throw new TamperedRecordError(contextText(context), 'truncated')
    try {
      return decoder.decode(sealed.subarray(3, 3 + kidLen))
    } catch {
      throw new TamperedRecordError(contextText(context), 'the key id is not UTF-8')
    }
  }

  /** Opens a record sealed for `context`; throws TamperedRecordError / UnknownKeyError. */
  open (sealed: Uint8Array, context: string | Uint8Array): Uint8Array {
    const kid = this.keyIdOf(sealed, context)
    const key = this.keys.key(kid)
    if (key === undefined) throw new UnknownKeyError(kid, contextText(context))
    const head = 3 + sealed[2]
    const nonce = sealed.subarray(head, head + NONCE_BYTES)
    const tag = sealed.subarray(sealed.byteLength - TAG_BYTES)
    const body = sealed.subarray(head + NONCE_BYTES, sealed.byteLength - TAG_BYTES)
    const decipher = createDecipheriv('aes-256-gcm', key, nonce)
    decipher.setAAD(aad(sealed.subarray(3, head), context))
    decipher.setAuthTag(tag)
    try {
      const a = decipher.update(body)
      const b = decipher.final()
      return b.byteLength === 0 ? new Uint8Array(a.buffer, a.byteOffset, a.byteLength) : new Uint8Array(Buffer.concat([a, b]))
    } catch {
      throw new TamperedRecordError(contextText(context), 'the authentication tag does not match')
    }
  }
}

function aad (kid: Uint8Array, context: string | Uint8Array): Buffer {
  const ctx = typeof context === 'string' ? encoder.encode(context) : context
  return Buffer.concat([AAD_PREFIX, kid, Buffer.from([0]), ctx])
}

function contextText (context: string | Uint8Array): string {
  return typeof context === 'string' ? context.slice(0, 200) : `<${context.byteLength} bytes>`
}

/** Seal the UTF-8 of a string (convenience for JSON stores). */
export function sealText (sealer: Sealer, text: string, context: string): Uint8Array {
  return sealer.seal(encoder.encode(text), context)
}
