/**
 * Data protection at rest: AES-256-GCM sealing of stored records under
 * rotating data keys held in a keyring, wrapped by a key provider (the
 * peer's identity, a passphrase, or a Vault-transit-compatible KMS).
 * See docs/security.md.
 */
export { Sealer, looksSealed, SEAL_MAGIC, SEAL_VERSION } from './sealer.js'
export type { SealingKeys } from './sealer.js'
export { Keyring, keyringPath, readKeyringFile, KEYRING_DIR, KEYRING_FILE } from './keyring.js'
export type { KeyringStatus, KeyringFile, LegacyClear } from './keyring.js'
export { LocalKeyProvider, TransitKeyProvider, identityKeyProvider, passphraseKeyProvider } from './providers.js'
export type { KeyProvider, TransitInit } from './providers.js'
export { SealedDatastore } from './sealed-datastore.js'
export { WrongKeyError, KeyringError, UnknownKeyError, TamperedRecordError, KeyProviderError, PROTECTION_ERROR_STATUS } from './errors.js'
export { openProtection } from './open.js'
export type { ProtectionConfig, Protection } from './open.js'
export { migrateLegacyClear, recheckLegacyClear, holdsLegacyData, raftFilesOf } from './migrate.js'
export type { MigrationResult } from './migrate.js'
export { walCipherFor } from './wal.js'
export { keyRoutes, EncryptionDisabledError } from './routes.js'
export { selfSignedCertificate } from './self-signed.js'
