/**
 * Node identity: one Ed25519 key in `<dataDir>/identity.key` gives the
 * libp2p PeerId, a did:key, and EdDSA JWTs verifiable offline.
 *
 * ```ts
 * const id = await loadOrCreateIdentity(config.dataDir)
 * const libp2p = await createLibp2p({ privateKey: id.privateKey, ... })
 * const jwt = await signJwt(id, { role: 'admin' }, { expiresInSeconds: 300 })
 * const { issuer, peerId } = await verifyJwt(jwt)
 * ```
 */
import type { Ed25519PrivateKey, PeerId } from '@libp2p/interface'

export interface NodeIdentity {
  privateKey: Ed25519PrivateKey
  peerId: PeerId
  /** did:key:z6Mk… of the same key */
  did: string
  /** raw 32-byte Ed25519 public key */
  publicKey: Uint8Array
}

export { identityFromPrivateKey, loadIdentity, loadOrCreateIdentity } from './identity.js'
export { KEY_FILE_NAME, keyFilePath } from './key-file.js'
export { didFromPublicKey, publicKeyFromDid, peerIdFromDid, didFromPeerId } from './did-key.js'
export { didKeyResolver, didKeyDocument } from './did-resolver.js'
export type { DidResolver, DidResolutionResult, DidDocument } from './did-resolver.js'
export { signJwt, verifyJwt, DEFAULT_CLOCK_SKEW_SECONDS, MAX_JWT_LENGTH } from './jwt.js'
export type { SignJwtOptions, VerifyJwtOptions, VerifiedJwt, JwtSigningIdentity, JWTPayload } from './jwt.js'
export {
  IdentityError,
  KeyFileMissingError,
  KeyFilePermissionsError,
  KeyFileCorruptError,
  KeyFileIoError,
  DataDirError,
  InvalidDidError,
  UnsupportedKeyTypeError,
  JwtVerificationError
} from './errors.js'
export type { IdentityErrorCode, JwtFailureReason } from './errors.js'
