/**
 * Federation trust: credentials issued by trust anchors, revocation lists,
 * and the policy that turns them into an effective trust level and region.
 */
export { issueCredential, verifyCredential, CREDENTIAL_TYPE, MAX_CREDENTIAL_BYTES, MAX_TRUST_LEVEL } from './credential.js'
export type { FederationClaims, IssueCredentialOptions, VerifiedCredential, VerifyCredentialOptions } from './credential.js'
export { issueRevocationList, verifyRevocationList, RevocationStore, REVOCATION_TOPIC, MAX_REVOCATION_BYTES } from './revocation.js'
export type { RevocationList } from './revocation.js'
export { loadTrustAnchors, parseTrustAnchors } from './anchors.js'
export type { TrustAnchor, TrustAnchors } from './anchors.js'
export { TrustPolicy } from './policy.js'
export type { EffectiveTrust } from './policy.js'
export { CredentialRejectedError, TrustAnchorsError, CREDENTIAL_REJECT_REASONS } from './errors.js'
export type { CredentialRejectReason } from './errors.js'
