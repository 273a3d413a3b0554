/**
 * Opens a peer's protection from its config: the key provider, the keyring
 * (created on first start) and the sealer. A wrong or missing key throws
 * WrongKeyError / KeyringError with one line that says what to fix.
 */
import { Keyring, keyringPath, readKeyringFile } from './keyring.js'
import { holdsLegacyData, raftFilesOf } from './migrate.js'
import { identityKeyProvider, passphraseKeyProvider, TransitKeyProvider } from './providers.js'
import { Sealer } from './sealer.js'
import { WrongKeyError } from './errors.js'
import type { KeyProvider } from './providers.js'

export interface ProtectionConfig {
  /** false: store in clear (not recommended); default true */
  enabled: boolean
  /** what wraps the data keys */
  provider: 'identity' | 'passphrase' | 'transit'
  /** transit: the service URL and key name (token from DCIS_TRANSIT_TOKEN) */
  transit?: { url: string, key: string, mount?: string }
}

export interface Protection {
  keyring: Keyring
  sealer: Sealer
}

export async function openProtection (dataDir: string, config: ProtectionConfig, identityRaw: Uint8Array, env: NodeJS.ProcessEnv = process.env): Promise<Protection> {
  let provider: KeyProvider
  let salt: Uint8Array | undefined
  if (config.provider === 'identity') {
    provider = identityKeyProvider(identityRaw)
  } else if (config.provider === 'passphrase') {
    const pass = env.DCIS_KEY_PASSPHRASE
    if (pass == null || pass === '') throw new WrongKeyError('storage.encryption.provider is passphrase but DCIS_KEY_PASSPHRASE is not set')
    salt = await Keyring.salt(dataDir)
    provider = passphraseKeyProvider(pass, salt)
  } else {
    const t = config.transit
    if (t == null) throw new WrongKeyError('storage.encryption.provider is transit but storage.encryption.transit {url, key} is not set')
    const token = env.DCIS_TRANSIT_TOKEN
    if (token == null || token === '') throw new WrongKeyError('storage.encryption.provider is transit but DCIS_TRANSIT_TOKEN is not set')
    provider = new TransitKeyProvider({ url: t.url, key: t.key, token, ...(t.mount !== undefined ? { mount: t.mount } : {}) })
  }
  // a keyring created for a data dir an older dcis (or encryption off) wrote: accept its clear records until re-sealed
  const legacy = (await readKeyringFile(keyringPath(dataDir))) === undefined && await holdsLegacyData(dataDir)
  const keyring = await Keyring.open(dataDir, provider, {
    ...(salt !== undefined ? { salt } : {}),
    ...(legacy ? { legacy: { raftFiles: await raftFilesOf(dataDir) } } : {})
  })
  return { keyring, sealer: new Sealer(keyring) }
}
