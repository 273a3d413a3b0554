/**
 * END descriptors as verifiable credentials (VC-JWT, EdDSA): issuer and
 * subject are the peer's own did:key, `vc.credentialSubject` is the END.
 * Verification is the same for every path a descriptor arrives by.
 */
import { peerIdFromDid, signJwt, verifyJwt, JwtVerificationError } from '../identity/index.js'
import { DescriptorRejectedError } from './errors.js'
import { checkDescriptorSchema } from './schema.js'
import type { EdgeNodeDescriptor } from './descriptor.js'
import type { JwtSigningIdentity } from '../identity/index.js'

export const MAX_DESCRIPTOR_BYTES = 16 * 1024
export const END_CONTEXT = ['https://www.w3.org/2018/credentials/v1', 'https://dcis-mesh.dev/ns/end/v1']
export const END_TYPE = ['VerifiableCredential', 'EdgeNodeDescriptor']
export const DEFAULT_SKEW_SECONDS = 30

export interface VerifiedDescriptor {
  end: EdgeNodeDescriptor
  jwt: string
  /** issued-at and expiry, seconds since the epoch */
  iat: number
  exp: number
}

/**
 * Memo of JWS signatures already checked, keyed by the whole compact JWS:
 * the same descriptor arrives many times (gossip from several neighbours,
 * sync, DHT), and the Ed25519 check is most of the cost. Only the
 * signature result is remembered; every other check runs each time.
 * Bounded, oldest entries evicted first.
 */
export class SignatureCache {
  private readonly entries = new Map<string, { payload: Record<string, unknown>, issuer: string }>()
  private readonly max: number

  constructor (max = 4096) {
    this.max = max
  }

  get (jwt: string): { payload: Record<string, unknown>, issuer: string } | undefined {
    return this.entries.get(jwt)
  }

  set (jwt: string, value: { payload: Record<string, unknown>, issuer: string }): void {
    this.entries.set(jwt, value)
    if (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value
      if (oldest != null) this.entries.delete(oldest)
    }
  }

  get size (): number {
    return this.entries.size
  }
}

export interface VerifyDescriptorOptions {
  /** signatures already checked (see SignatureCache) */
  signatures?: SignatureCache
  /** seconds since the epoch */
  now?: number
  skewSeconds?: number
  /** the peer id the descriptor must be about (the DHT key, the gossip sender) */
  expectedPeerId?: string
}

/** Signs an END as a VC-JWT; `iat`/`exp` follow the descriptor's issuedAt/expiresAt. */
export async function signDescriptor (identity: JwtSigningIdentity, end: EdgeNodeDescriptor): Promise<string> {
  const iat = Math.floor(Date.parse(end.issuedAt) / 1000)
  const exp = Math.floor(Date.parse(end.expiresAt) / 1000)
  const jwt = await signJwt(identity, {
    nbf: iat,
    vc: { '@context': END_CONTEXT, type: END_TYPE, credentialSubject: end }
  }, { subject: end.id, issuedAt: iat, expiresInSeconds: exp - iat })
  if (jwt.length > MAX_DESCRIPTOR_BYTES) {
    throw new DescriptorRejectedError('oversized', `own descriptor is ${jwt.length} bytes, over ${MAX_DESCRIPTOR_BYTES}`)
  }
  return jwt
}

const JWT_REASON: Record<string, 'malformed' | 'bad-signature' | 'unsupported-did'> = {
  'unsupported-did': 'unsupported-did',
  'bad-signature': 'bad-signature'
}

/**
 * Checks, in order: size, JWS signature against the issuer's did:key,
 * credential shape, END schema, issuer = subject = END id, the peer id is
 * the issuer's key, the expected peer id, not expired, not issued in the
 * future beyond the skew allowance. Throws DescriptorRejectedError.
 */
export async function verifyDescriptor (input: string | Uint8Array, options: VerifyDescriptorOptions = {}): Promise<VerifiedDescriptor> {
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.byteLength
  if (size > MAX_DESCRIPTOR_BYTES) throw new DescriptorRejectedError('oversized', `${size} bytes > ${MAX_DESCRIPTOR_BYTES}`)
  const jwt = typeof input === 'string' ? input : new TextDecoder('utf-8', { fatal: false }).decode(input)
  const now = options.now ?? Math.floor(Date.now() / 1000)
  const skew = options.skewSeconds ?? DEFAULT_SKEW_SECONDS

  let payload: Record<string, unknown>
  let issuer: string
  const memo = options.signatures?.get(jwt)
  if (memo != null) {
    // a fresh copy: callers may keep and mutate what they get back
    payload = structuredClone(memo.payload)
    issuer = memo.issuer
  } else try {
    // claims are checked below against our own rules; far-future 'now' disables the library's exp check
    const verified = await verifyJwt(jwt, { now, clockSkewSeconds: 10 * 365 * 86400 })
    payload = verified.payload as Record<string, unknown>
    issuer = verified.issuer
    options.signatures?.set(jwt, { payload: structuredClone(payload), issuer })
  } catch (err) {
    if (err instanceof JwtVerificationError) {
      throw new DescriptorRejectedError(JWT_REASON[err.reason] ?? 'malformed', err.message, { cause: err })
    }
    throw new DescriptorRejectedError('malformed', (err as Error).message, { cause: err })
  }

  const vc = payload.vc as { type?: unknown, credentialSubject?: unknown } | undefined
  if (vc == null || typeof vc !== 'object' || !Array.isArray(vc.type) || !vc.type.includes('EdgeNodeDescriptor')) {
    throw new DescriptorRejectedError('not-a-descriptor', 'vc.type does not include EdgeNodeDescriptor')
  }
  const reason = checkDescriptorSchema(vc.credentialSubject)
  if (reason != null) throw new DescriptorRejectedError('schema', reason)
  const end = vc.credentialSubject as EdgeNodeDescriptor

  if (end.id !== issuer || payload.sub !== issuer) {
    throw new DescriptorRejectedError('issuer-mismatch', `issuer ${issuer} is not the subject ${String(payload.sub)} / END id ${end.id}`)
  }
  if (peerIdFromDid(issuer).toString() !== end.peerId) {
    throw new DescriptorRejectedError('peer-mismatch', `peerId ${end.peerId} is not the issuer's key`)
  }
  if (options.expectedPeerId != null && options.expectedPeerId !== end.peerId) {
    throw new DescriptorRejectedError('key-mismatch', `descriptor of ${end.peerId} offered as ${options.expectedPeerId}`)
  }
  const iat = payload.iat
  const exp = payload.exp
  if (typeof iat !== 'number' || typeof exp !== 'number' || !Number.isFinite(iat) || !Number.isFinite(exp) || exp <= iat) {
    throw new DescriptorRejectedError('malformed', 'iat/exp missing or inconsistent')
  }
  if (Math.floor(Date.parse(end.issuedAt) / 1000) !== iat || Math.floor(Date.parse(end.expiresAt) / 1000) !== exp) {
    throw new DescriptorRejectedError('malformed', 'issuedAt/expiresAt do not match the JWT\'s iat/exp')
  }
  if (exp <= now - skew) throw new DescriptorRejectedError('expired', `expired at ${new Date(exp * 1000).toISOString()}`)
  if (iat > now + skew) throw new DescriptorRejectedError('future', `issued at ${new Date(iat * 1000).toISOString()}, in the future`)
  return { end, jwt, iat, exp }
}

/** iat of a compact JWS without verifying it (for ordering already-verified records). */
export function peekIssuedAt (jwt: string): number {
  try {
    const payload = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as { iat?: unknown }
    return typeof payload.iat === 'number' ? payload.iat : -1
  } catch {
    return -1
  }
}
