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
import { createCipheriv, createDecipheriv, createSecretKey, randomFillSync } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { TamperedRecordError, UnknownKeyError } from './errors.js'

export const SEAL_MAGIC = 0xd5
export const SEAL_VERSION = 0x01
const NONCE_BYTES = 12
const TAG_BYTES = 16
const KEY_BYTES = 32
const AAD_PREFIX = Buffer.from('dcis-seal/1\0')
const encoder = new TextEncoder()

/** The keys a sealer uses: one active for new records, all for opening. */
export interface SealingKeys {
  /** id of the key new records are sealed with */
  readonly activeId: string
  /** the 32-byte key of `id`, or undefined */
  key (id: string): Uint8Array | undefined
  /** whether a record in clear for `context` is accepted as it is (an upgraded data dir, before its migration pass) */
  acceptsClear? (context: string | Uint8Array): boolean
}

/** Whether `bytes` starts like a sealed record (a cheap check, not authentication). */
export function looksSealed (bytes: Uint8Array): boolean {
  return bytes.byteLength >= 3 && bytes[0] === SEAL_MAGIC && bytes[1] === SEAL_VERSION
}

/** nonces are drawn from the CSPRNG in blocks (one syscall per NONCE_POOL nonces), each used once */
const NONCE_POOL = 1024
const KID = /^[\x21-\x7e]{1,64}$/

export class Sealer {
  private readonly kidBytes = new Map<string, Buffer>()
  /** imported keys by id (importing a raw key on every call costs more than the cipher) */
  private readonly imported = new Map<string, { raw: Uint8Array, key: KeyObject }>()
  private pool = Buffer.alloc(0)
  private poolAt = 0

  /** clear records read while the keyring accepted them (an upgraded data dir, before its migration pass) */
  clearRecordsOpened = 0

  constructor (private readonly keys: SealingKeys) {}

  private kid (id: string): Buffer {
    let b = this.kidBytes.get(id)
    if (b === undefined) {
      if (!KID.test(id)) throw new TypeError(`a key id is 1-64 printable ASCII characters (got ${JSON.stringify(id).slice(0, 80)})`)
      b = Buffer.from(id, 'latin1')
      this.kidBytes.set(id, b)
    }
    return b
  }

  private keyObject (id: string, raw: Uint8Array): KeyObject {
    const hit = this.imported.get(id)
    if (hit !== undefined && hit.raw === raw) return hit.key
    const key = createSecretKey(raw)
    this.imported.set(id, { raw, key })
    return key
  }

  private nonce (): Buffer {
    if (this.poolAt + NONCE_BYTES > this.pool.byteLength) {
      this.pool = randomFillSync(Buffer.allocUnsafe(NONCE_POOL * NONCE_BYTES))
      this.poolAt = 0
    }
    const n = this.pool.subarray(this.poolAt, this.poolAt + NONCE_BYTES)
    this.poolAt += NONCE_BYTES
    return n
  }

  get activeKeyId (): string {
    return this.keys.activeId
  }

  /** bytes a sealed record adds to its plaintext under the active key (constant for the keyring's fixed-width ids) */
  get overhead (): number {
    return 3 + this.kid(this.keys.activeId).byteLength + NONCE_BYTES + TAG_BYTES
  }

  /** Seals `plain` for the record `context` (its identity: a key, a group+index, ...). */
  seal (plain: Uint8Array, context: string | Uint8Array): Uint8Array {
    const kid = this.keys.activeId
    const key = this.keys.key(kid)
    if (key === undefined || key.byteLength !== KEY_BYTES) throw new UnknownKeyError(kid, contextText(context))
    const kidBytes = this.kid(kid)
    const nonce = this.nonce()
    const cipher = createCipheriv('aes-256-gcm', this.keyObject(kid, key), nonce)
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
    if (kidLen === 0 || kidLen > 64 || sealed.byteLength < 3 + kidLen + NONCE_BYTES + TAG_BYTES) throw new TamperedRecordError(contextText(context), 'truncated')
    const id = Buffer.from(sealed.buffer, sealed.byteOffset + 3, kidLen).toString('latin1')
    if (!KID.test(id)) throw new TamperedRecordError(contextText(context), 'the key id is not printable ASCII')
    return id
  }

  /** Opens a record sealed for `context`; throws TamperedRecordError / UnknownKeyError. */
  open (sealed: Uint8Array, context: string | Uint8Array): Uint8Array {
    if (!looksSealed(sealed) && this.keys.acceptsClear?.(context) === true) {
      // an upgraded data dir: written in clear before the keyring existed (re-sealed by the migration pass)
      this.clearRecordsOpened++
      return sealed
    }
    const kid = this.keyIdOf(sealed, context)
    const key = this.keys.key(kid)
    if (key === undefined) throw new UnknownKeyError(kid, contextText(context))
    const head = 3 + sealed[2]
    const nonce = sealed.subarray(head, head + NONCE_BYTES)
    const tag = sealed.subarray(sealed.byteLength - TAG_BYTES)
    const body = sealed.subarray(head + NONCE_BYTES, sealed.byteLength - TAG_BYTES)
    if (key.byteLength !== KEY_BYTES) throw new UnknownKeyError(kid, contextText(context))
    const decipher = createDecipheriv('aes-256-gcm', this.keyObject(kid, key), nonce)
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
  const ctxLen = typeof context === 'string' ? Buffer.byteLength(context) : context.byteLength
  const out = Buffer.allocUnsafe(AAD_PREFIX.byteLength + kid.byteLength + 1 + ctxLen)
  AAD_PREFIX.copy(out, 0)
  out.set(kid, AAD_PREFIX.byteLength)
  out[AAD_PREFIX.byteLength + kid.byteLength] = 0
  if (typeof context === 'string') out.write(context, AAD_PREFIX.byteLength + kid.byteLength + 1, 'utf8')
  else out.set(context, AAD_PREFIX.byteLength + kid.byteLength + 1)
  return out
}

function contextText (context: string | Uint8Array): string {
  return typeof context === 'string' ? context.slice(0, 200) : `<${context.byteLength} bytes>`
}

/** Seal the UTF-8 of a string (convenience for JSON stores). */
export function sealText (sealer: Sealer, text: string, context: string): Uint8Array {
  return sealer.seal(encoder.encode(text), context)
}
