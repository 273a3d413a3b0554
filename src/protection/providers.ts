/**
 * Key providers: what wraps (encrypts) the data keys of the keyring, so the
 * keyring file alone does not reveal them.
 *
 * - `identity`: a key derived (HKDF-SHA256) from the peer's Ed25519 seed.
 *   Protects the data files when they leak without `identity.key`; whoever
 *   holds the whole data dir holds the keys too.
 * - `passphrase`: scrypt of a passphrase from the environment
 *   (DCIS_KEY_PASSPHRASE) and a random salt kept in the keyring.
 * - `transit`: an HTTP key management service with the HashiCorp Vault
 *   transit API (`POST /v1/transit/encrypt/<key>`, `/decrypt/<key>`, token in
 *   `X-Vault-Token`): the master key never reaches the node.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, scryptSync } from 'node:crypto'
import { KeyProviderError, WrongKeyError } from './errors.js'

export interface KeyProvider {
  /** 'identity' | 'passphrase' | 'transit' */
  readonly kind: string
  /** wraps a 32-byte data key `id`; returns text stored in the keyring */
  wrap (key: Uint8Array, id: string): Promise<string>
  /** unwraps; throws WrongKeyError when the provider holds another master key */
  unwrap (wrapped: string, id: string): Promise<Uint8Array>
}

const WRAP_AAD = 'dcis-keyring/1:'

/** AES-256-GCM wrapping under a local key-encryption key. */
export class LocalKeyProvider implements KeyProvider {
  constructor (readonly kind: 'identity' | 'passphrase', private readonly kek: Uint8Array) {
    if (kek.byteLength !== 32) throw new TypeError('a key-encryption key is 32 bytes')
  }

  async wrap (key: Uint8Array, id: string): Promise<string> {
    const nonce = randomBytes(12)
    const c = createCipheriv('aes-256-gcm', this.kek, nonce)
    c.setAAD(Buffer.from(WRAP_AAD + id))
    const body = Buffer.concat([c.update(key), c.final()])
    return Buffer.concat([nonce, body, c.getAuthTag()]).toString('base64')
  }

  async unwrap (wrapped: string, id: string): Promise<Uint8Array> {
    const raw = Buffer.from(wrapped, 'base64')
    if (raw.byteLength !== 12 + 32 + 16) throw new WrongKeyError(`key ${id}: the wrapped key is ${raw.byteLength} bytes, not ${12 + 32 + 16}`)
    const d = createDecipheriv('aes-256-gcm', this.kek, raw.subarray(0, 12))
    d.setAAD(Buffer.from(WRAP_AAD + id))
    d.setAuthTag(raw.subarray(raw.byteLength - 16))
    try {
      return new Uint8Array(Buffer.concat([d.update(raw.subarray(12, raw.byteLength - 16)), d.final()]))
    } catch {
      throw new WrongKeyError(`key ${id} does not unwrap with the ${this.kind} key (wrong ${this.kind === 'passphrase' ? 'DCIS_KEY_PASSPHRASE' : 'identity.key'}?)`)
    }
  }
}

/** The key-encryption key derived from the peer's Ed25519 seed (first 32 bytes of its raw private key). */
export function identityKeyProvider (ed25519Raw: Uint8Array): LocalKeyProvider {
  const seed = ed25519Raw.subarray(0, 32)
  const kek = new Uint8Array(hkdfSync('sha256', seed, Buffer.from('dcis-mesh keyring'), Buffer.from('dcis-keyring-kek/1'), 32))
  return new LocalKeyProvider('identity', kek)
}

/** scrypt parameters: N = 2^15 (about 32 MiB, ~0.1 s), r 8, p 1 */
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }

export function passphraseKeyProvider (passphrase: string, salt: Uint8Array): LocalKeyProvider {
  if (passphrase.length < 8) throw new WrongKeyError('DCIS_KEY_PASSPHRASE must be at least 8 characters')
  return new LocalKeyProvider('passphrase', new Uint8Array(scryptSync(passphrase, salt, 32, SCRYPT)))
}

export interface TransitInit {
  /** base URL of the service, e.g. https://vault.example:8200 */
  url: string
  /** the transit key name */
  key: string
  /** the service token (X-Vault-Token), from DCIS_TRANSIT_TOKEN */
  token: string
  /** mount path, default 'transit' */
  mount?: string
  timeoutMs?: number
  fetch?: typeof fetch
}

/** Vault-transit-compatible HTTP provider: the data keys are wrapped by the service. */
export class TransitKeyProvider implements KeyProvider {
  readonly kind = 'transit'
  constructor (private readonly init: TransitInit) {
    if (!/^https?:\/\//.test(init.url)) throw new KeyProviderError(`transit url must be http(s)://..., got ${init.url.slice(0, 80)}`)
    if (!/^[A-Za-z0-9_.-]{1,128}$/.test(init.key)) throw new KeyProviderError('transit key name must be 1-128 of [A-Za-z0-9_.-]')
  }

  private async call (op: 'encrypt' | 'decrypt', body: Record<string, string>): Promise<Record<string, unknown>> {
    const url = `${this.init.url.replace(/\/+$/, '')}/v1/${this.init.mount ?? 'transit'}/${op}/${this.init.key}`
    let res: Response
    try {
      res = await (this.init.fetch ?? fetch)(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-vault-token': this.init.token },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.init.timeoutMs ?? 10_000)
      })
    } catch (err) {
      throw new KeyProviderError(`transit ${op}: ${(err as Error).message}`, { cause: err })
    }
    const text = await res.text()
    let json: unknown
    try { json = JSON.parse(text) } catch { json = undefined }
    const data = (json as { data?: Record<string, unknown> } | undefined)?.data
    if (res.status === 400 && op === 'decrypt') throw new WrongKeyError(`transit decrypt refused the wrapped key (${text.slice(0, 200)})`)
    if (!res.ok || data == null || typeof data !== 'object') throw new KeyProviderError(`transit ${op}: HTTP ${res.status} ${text.slice(0, 200)}`)
    return data
  }

  async wrap (key: Uint8Array, _id: string): Promise<string> {
    const data = await this.call('encrypt', { plaintext: Buffer.from(key).toString('base64') })
    if (typeof data.ciphertext !== 'string') throw new KeyProviderError('transit encrypt: no ciphertext in the answer')
    return data.ciphertext
  }

  async unwrap (wrapped: string, id: string): Promise<Uint8Array> {
    const data = await this.call('decrypt', { ciphertext: wrapped })
    if (typeof data.plaintext !== 'string') throw new KeyProviderError('transit decrypt: no plaintext in the answer')
    const key = Buffer.from(data.plaintext, 'base64')
    if (key.byteLength !== 32) throw new WrongKeyError(`transit decrypt of key ${id} gave ${key.byteLength} bytes, not 32`)
    return new Uint8Array(key)
  }
}
