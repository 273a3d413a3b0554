/**
 * did:key for Ed25519 public keys (https://w3c-ccg.github.io/did-method-key/):
 * `did:key:` + multibase base58btc ('z') of (multicodec ed25519-pub varint
 * 0xed 0x01 || 32-byte raw public key). Such DIDs start with `did:key:z6Mk`.
 *
 * Pure functions, no I/O.
 */
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import type { Ed25519PeerId, PeerId } from '@libp2p/interface'
import { base58btc } from 'multiformats/bases/base58'
import { InvalidDidError, UnsupportedKeyTypeError } from './errors.js'

/** Multicodec `ed25519-pub` (0xed) as an unsigned varint. */
const ED25519_PUB_PREFIX = Uint8Array.of(0xed, 0x01)
const ED25519_PUBLIC_KEY_LENGTH = 32
const DID_KEY_PREFIX = 'did:key:'
/** Longer than any valid Ed25519 did:key; guards the decoder against huge input. */
const MAX_DID_LENGTH = 128

/** `did:key:z6Mk…` for a raw 32-byte Ed25519 public key. */
export function didFromPublicKey (raw: Uint8Array): string {
  if (!(raw instanceof Uint8Array) || raw.length !== ED25519_PUBLIC_KEY_LENGTH) {
    throw new UnsupportedKeyTypeError(`raw key of ${raw instanceof Uint8Array ? raw.length : typeof raw} bytes`, 'didFromPublicKey expects a 32-byte Ed25519 public key')
  }
  const bytes = new Uint8Array(ED25519_PUB_PREFIX.length + raw.length)
  bytes.set(ED25519_PUB_PREFIX, 0)
  bytes.set(raw, ED25519_PUB_PREFIX.length)
  return DID_KEY_PREFIX + base58btc.encode(bytes)
}

/**
 * The raw 32-byte Ed25519 public key of a did:key. Throws `InvalidDidError`
 * for another DID method, a DID URL (path, query, fragment), a multibase other
 * than base58btc, a multicodec other than ed25519-pub, or a wrong length.
 */
export function publicKeyFromDid (did: string): Uint8Array {
  if (typeof did !== 'string') {
    throw new InvalidDidError(String(did), 'not a string')
  }
  if (did.length > MAX_DID_LENGTH) {
    throw new InvalidDidError(did, `longer than ${MAX_DID_LENGTH} characters`)
  }
  if (!did.startsWith(DID_KEY_PREFIX)) {
    throw new InvalidDidError(did, 'not a did:key (must start with "did:key:")')
  }
  const id = did.slice(DID_KEY_PREFIX.length)
  if (/[/?#:]/.test(id)) {
    throw new InvalidDidError(did, 'a DID URL or versioned did:key, expected a bare did:key:z…')
  }
  if (!id.startsWith('z')) {
    throw new InvalidDidError(did, 'method-specific id must be base58btc multibase (start with "z")')
  }
  let bytes: Uint8Array
  try {
    bytes = base58btc.decode(id)
  } catch {
    throw new InvalidDidError(did, 'method-specific id is not valid base58btc')
  }
  if (bytes.length < 2 || bytes[0] !== ED25519_PUB_PREFIX[0] || bytes[1] !== ED25519_PUB_PREFIX[1]) {
    const got = bytes.length >= 2 ? `0x${bytes[0].toString(16).padStart(2, '0')}${bytes[1].toString(16).padStart(2, '0')}` : 'none'
    throw new InvalidDidError(did, `multicodec must be ed25519-pub (0xed01), got ${got}`)
  }
  const key = bytes.subarray(ED25519_PUB_PREFIX.length)
  if (key.length !== ED25519_PUBLIC_KEY_LENGTH) {
    throw new InvalidDidError(did, `Ed25519 public key must be ${ED25519_PUBLIC_KEY_LENGTH} bytes, got ${key.length}`)
  }
  return Uint8Array.from(key)
}

/** The libp2p PeerId of the key a did:key names. */
export function peerIdFromDid (did: string): Ed25519PeerId {
  const raw = publicKeyFromDid(did)
  const key = publicKeyFromRaw(raw)
  if (key.type !== 'Ed25519') {
    throw new InvalidDidError(did, 'does not hold an Ed25519 key')
  }
  return peerIdFromPublicKey(key)
}

/** The did:key of an Ed25519 peer id (peer ids of other key types are refused). */
export function didFromPeerId (peerId: PeerId): string {
  if (peerId.type !== 'Ed25519' || peerId.publicKey == null) {
    throw new UnsupportedKeyTypeError(peerId.type, `didFromPeerId(${peerId.toString()})`)
  }
  return didFromPublicKey(peerId.publicKey.raw)
}
