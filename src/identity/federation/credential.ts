/**
 * Federation credentials: VC-JWTs that a trust anchor (an operator's
 * did:key) issues to a peer's DID, attesting a trust level and optionally a
 * region. Peers attach them to their END; verifiers believe trust level and
 * region only from credentials whose issuer is one of their federation's
 * anchors, unexpired and not revoked.
 */
import { randomBytes } from 'node:crypto'
import { signJwt, verifyJwt } from '../jwt.js'
import { JwtVerificationError } from '../errors.js'
import { CredentialRejectedError } from './errors.js'
import type { JwtSigningIdentity } from '../jwt.js'

export const CREDENTIAL_TYPE = ['VerifiableCredential', 'FederationCredential']
export const CREDENTIAL_CONTEXT = ['https://www.w3.org/2018/credentials/v1', 'https://dcis-mesh.dev/ns/end/v1']
export const MAX_CREDENTIAL_BYTES = 4096
export const MAX_TRUST_LEVEL = 10

export interface FederationClaims {
  /** the subject peer's DID */
  id: string
  federation: string
  trustLevel: number
  region?: string
}

export interface IssueCredentialOptions {
  subject: string
  federation: string
  trustLevel: number
  region?: string
  /** lifetime in seconds, default 30 days */
  ttlSeconds?: number
  issuedAt?: number
}

export interface VerifiedCredential {
  jwt: string
  issuer: string
  jti: string
  claims: FederationClaims
  iat: number
  exp: number
}

export async function issueCredential (issuer: JwtSigningIdentity, options: IssueCredentialOptions): Promise<string> {
  if (!Number.isInteger(options.trustLevel) || options.trustLevel < 0 || options.trustLevel > MAX_TRUST_LEVEL) {
    throw new RangeError(`trust level must be an integer from 0 to ${MAX_TRUST_LEVEL} (got ${options.trustLevel})`)
  }
  if (!options.subject.startsWith('did:key:')) throw new RangeError(`subject must be a did:key (got ${options.subject})`)
  if (options.region != null && !/^[a-z0-9-]{1,63}$/.test(options.region)) throw new RangeError(`region must match [a-z0-9-]{1,63} (got ${options.region})`)
  const claims: FederationClaims = { id: options.subject, federation: options.federation, trustLevel: options.trustLevel }
  if (options.region != null) claims.region = options.region
  return signJwt(issuer, {
    jti: `urn:dcis:cred:${randomBytes(12).toString('hex')}`,
    vc: { '@context': CREDENTIAL_CONTEXT, type: CREDENTIAL_TYPE, credentialSubject: claims }
  }, { subject: options.subject, expiresInSeconds: options.ttlSeconds ?? 30 * 86400, issuedAt: options.issuedAt })
}

export interface VerifyCredentialOptions {
  /** accepted issuers (trust anchors) */
  anchors: ReadonlySet<string>
  federation: string
  /** the DID the credential must be about */
  subject?: string
  now?: number
  skewSeconds?: number
  isRevoked?: (issuer: string, jti: string) => boolean
}

export async function verifyCredential (jwt: string, options: VerifyCredentialOptions): Promise<VerifiedCredential> {
  if (typeof jwt !== 'string' || jwt.length > MAX_CREDENTIAL_BYTES) throw new CredentialRejectedError('malformed', `not a string of at most ${MAX_CREDENTIAL_BYTES} bytes`)
  const now = options.now ?? Math.floor(Date.now() / 1000)
  const skew = options.skewSeconds ?? 30
  let payload: Record<string, unknown>
  let issuer: string
  try {
    const v = await verifyJwt(jwt, { now, clockSkewSeconds: 10 * 365 * 86400 })
    payload = v.payload as Record<string, unknown>
    issuer = v.issuer
  } catch (err) {
    const reason = err instanceof JwtVerificationError && err.reason === 'bad-signature' ? 'bad-signature' : 'malformed'
    throw new CredentialRejectedError(reason, (err as Error).message, { cause: err })
  }
  if (!options.anchors.has(issuer)) throw new CredentialRejectedError('unknown-issuer', `${issuer} is not a trust anchor of federation ${options.federation}`)
  const vc = payload.vc as { type?: unknown, credentialSubject?: Record<string, unknown> } | undefined
  const subj = vc?.credentialSubject
  if (vc == null || !Array.isArray(vc.type) || !vc.type.includes('FederationCredential') || subj == null || typeof subj !== 'object') {
    throw new CredentialRejectedError('malformed', 'not a FederationCredential')
  }
  const level = subj.trustLevel
  if (typeof subj.id !== 'string' || typeof subj.federation !== 'string' || typeof level !== 'number' || !Number.isInteger(level) || level < 0 || level > MAX_TRUST_LEVEL ||
      (subj.region != null && (typeof subj.region !== 'string' || !/^[a-z0-9-]{1,63}$/.test(subj.region)))) {
    throw new CredentialRejectedError('malformed', 'credentialSubject needs id, federation, trustLevel 0..10 and an optional region')
  }
  if (options.subject != null && (subj.id !== options.subject || payload.sub !== options.subject)) {
    throw new CredentialRejectedError('wrong-subject', `issued to ${String(subj.id)}, presented by ${options.subject}`)
  }
  if (subj.federation !== options.federation) throw new CredentialRejectedError('wrong-federation', `for federation ${subj.federation}, not ${options.federation}`)
  const iat = payload.iat
  const exp = payload.exp
  const jti = payload.jti
  if (typeof iat !== 'number' || typeof exp !== 'number' || typeof jti !== 'string' || jti.length > 128) throw new CredentialRejectedError('malformed', 'iat, exp and jti are required')
  if (exp <= now - skew) throw new CredentialRejectedError('expired', `expired at ${new Date(exp * 1000).toISOString()}`)
  if (iat > now + skew) throw new CredentialRejectedError('future', 'issued in the future')
  if (options.isRevoked?.(issuer, jti) === true) throw new CredentialRejectedError('revoked', `${jti} was revoked by ${issuer}`)
  return {
    jwt,
    issuer,
    jti,
    claims: { id: subj.id, federation: subj.federation, trustLevel: level, ...(typeof subj.region === 'string' ? { region: subj.region } : {}) },
    iat,
    exp
  }
}
