/**
 * Loading and creating the node identity from the data dir.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { AbortOptions, Ed25519PrivateKey } from '@libp2p/interface'
import { didFromPublicKey } from './did-key.js'
import { UnsupportedKeyTypeError } from './errors.js'
import { ensureDataDir, keyFilePath, readKeyFile, writeKeyFileExclusive } from './key-file.js'
import { KeyFileMissingError } from './errors.js'
import type { NodeIdentity } from './index.js'

/** PeerId, DID and raw public key derived from one Ed25519 private key. */
export function identityFromPrivateKey (key: Ed25519PrivateKey): NodeIdentity {
  if (key?.type !== 'Ed25519') {
    throw new UnsupportedKeyTypeError(String(key?.type), 'identityFromPrivateKey')
  }
  const publicKey = Uint8Array.from(key.publicKey.raw)
  return {
    privateKey: key,
    peerId: peerIdFromPrivateKey(key),
    did: didFromPublicKey(publicKey),
    publicKey
  }
}

/** Loads `<dataDir>/identity.key`; throws KeyFileMissingError if it is absent. */
export async function loadIdentity (dataDir: string, options: AbortOptions = {}): Promise<NodeIdentity> {
  options.signal?.throwIfAborted()
  return identityFromPrivateKey(await readKeyFile(keyFilePath(dataDir)))
}

/**
 * Loads the identity, or on first start creates the data dir (0700) and a
 * fresh Ed25519 key (0600). `created` says which happened.
 */
export async function loadOrCreateIdentity (dataDir: string, options: AbortOptions = {}): Promise<NodeIdentity & { created: boolean }> {
  const file = keyFilePath(dataDir)
  try {
    return { ...(await loadIdentity(dataDir, options)), created: false }
  } catch (err) {
    if (!(err instanceof KeyFileMissingError)) throw err
  }
  await ensureDataDir(dataDir)
  const key = await generateKeyPair('Ed25519')
  options.signal?.throwIfAborted() // last point at which nothing has been written
  if (await writeKeyFileExclusive(file, key)) {
    return { ...identityFromPrivateKey(key), created: true }
  }
  // another process created it between our read and our write: use theirs
  return { ...(await loadIdentity(dataDir)), created: false }
}
