/**
 * JWTs signed by a node identity (EdDSA over Ed25519, issuer = the node's
 * did:key) and their verification with the offline did:key resolver.
 *
 * did-jwt checks the signature; the claims (exp, nbf, iat, aud) are checked
 * here so each failure gets a typed reason without parsing library messages.
 */
import type * as DidJwt from 'did-jwt'
import type { JWTPayload } from 'did-jwt'
import { base64url } from 'multiformats/bases/base64'
import { peerIdFromDid } from './did-key.js'
import { didKeyDocument } from './did-resolver.js'
import { verifyJwsEd25519 } from './ed25519-verify.js'
import type { DidResolver } from './did-resolver.js'
import { InvalidDidError, JwtVerificationError, errorText } from './errors.js'
import type { Ed25519PeerId, Ed25519PrivateKey } from '@libp2p/interface'

export type { JWTPayload }

/**
 * did-jwt (and its secp256k1/P-256 curves, resolvers and codecs: ~25 ES
 * modules, a few MiB of heap and ~70 ms of a peer's start) is loaded only
 * for a custom resolver: signing and did:key verification run on Node's
 * native Ed25519 (issue 13).
 */
let didJwt: Promise<typeof DidJwt> | undefined
async function loadDidJwt (): Promise<typeof DidJwt> {
  didJwt ??= import('did-jwt')
  return await didJwt
}

export interface SignJwtOptions {
  /** `aud` claim: the DID (or URL) of the intended recipient(s) */
  audience?: string | string[]
  /** sets `exp` = iat + this many seconds (a positive integer) */
  expiresInSeconds?: number
  /** `sub` claim */
  subject?: string
  /** issued-at in seconds since the epoch; defaults to now (for tests and replay tools) */
  issuedAt?: number
}

export interface VerifyJwtOptions {
  /** the verifier's own DID/URL; a token with an `aud` claim must name it */
  audience?: string
  /** tolerated clock difference for exp/nbf/iat, in seconds (default 60) */
  clockSkewSeconds?: number
  /** "now" in seconds since the epoch (default: the wall clock) */
  now?: number
  /** DID resolver; default: the offline did:key resolver */
  resolver?: DidResolver
  /** refuse tokens without an `exp` claim (reason 'malformed'); default false */
  requireExpiry?: boolean
}

export interface VerifiedJwt {
  payload: JWTPayload
  /** the issuer DID (`iss`) */
  issuer: string
  /** the verification method whose key checked the signature */
  signer: { id: string, type: string, controller: string }
  /** the issuer's libp2p peer id (derived from its did:key) */
  peerId: Ed25519PeerId
}

/** What signJwt needs from a NodeIdentity. */
export interface JwtSigningIdentity {
  privateKey: Ed25519PrivateKey
  did: string
}

export const DEFAULT_CLOCK_SKEW_SECONDS = 60
/** Tokens larger than this are refused before any parsing. */
export const MAX_JWT_LENGTH = 64 * 1024
const ALG = 'EdDSA'

/**
 * A compact JWS with `iss` = the identity's DID and `iat` = now. Claims in
 * `payload` are kept, except that `iss` is always the signer's DID.
 */
export async function signJwt (identity: JwtSigningIdentity, payload: Record<string, unknown>, options: SignJwtOptions = {}): Promise<string> {
  if (identity.privateKey.type !== 'Ed25519') {
    throw new TypeError('signJwt: only Ed25519 identities can sign')
  }
  const iat = options.issuedAt ?? Math.floor(Date.now() / 1000)
  if (!Number.isSafeInteger(iat) || iat < 0) {
    throw new RangeError(`signJwt: issuedAt must be a non-negative integer (got ${String(options.issuedAt)})`)
  }
  const claims: Partial<JWTPayload> = { ...payload, iat }
  if (options.expiresInSeconds != null) {
    if (!Number.isSafeInteger(options.expiresInSeconds) || options.expiresInSeconds <= 0) {
      throw new RangeError(`signJwt: expiresInSeconds must be a positive integer (got ${String(options.expiresInSeconds)})`)
    }
    claims.exp = iat + options.expiresInSeconds
  }
  if (options.audience != null) claims.aud = options.audience
  if (options.subject != null) claims.sub = options.subject
  const didUrl = `${identity.did}#${identity.did.slice('did:key:'.length)}`
  return await signCompactEd25519(identity, claims, { alg: ALG, typ: 'JWT', kid: didUrl })
}

/**
 * The compact JWS did-jwt's `createJWT(claims, { issuer, signer:
 * EdDSASigner(key) }, header)` makes, byte for byte (the same JSON member
 * order; Ed25519 signatures are deterministic), signed by the libp2p key
 * itself (@libp2p/crypto signs on Node's native Ed25519) instead of
 * did-jwt's JavaScript: a peer signs its END at start and did-jwt is then
 * not loaded at all (test/identity/jwt.spec.ts compares the two).
 */
async function signCompactEd25519 (identity: JwtSigningIdentity, claims: Partial<JWTPayload>, header: Record<string, unknown>): Promise<string> {
  const payload = { iat: Math.floor(Date.now() / 1000), exp: undefined, ...claims, iss: identity.did }
  const input = `${base64urlJson(header)}.${base64urlJson(payload)}`
  const signature = await identity.privateKey.sign(Buffer.from(input, 'ascii'))
  return `${input}.${Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength).toString('base64url')}`
}

function base64urlJson (value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url')
}

/**
 * Verifies signature and claims. Throws `JwtVerificationError` with a
 * `reason`: malformed, unsupported-algorithm, unsupported-did, bad-signature,
 * expired, not-yet-valid, wrong-audience.
 */
export async function verifyJwt (jwt: string, options: VerifyJwtOptions = {}): Promise<VerifiedJwt> {
  const { header, payload, signature } = decodeCompact(jwt)

  if (header.alg !== ALG) {
    throw new JwtVerificationError('unsupported-algorithm', `alg must be ${ALG}, got ${JSON.stringify(header.alg)}`)
  }
  const issuer = payload.iss
  if (typeof issuer !== 'string' || issuer === '') {
    throw new JwtVerificationError('malformed', 'the iss claim is missing or not a string')
  }
  let peerId: Ed25519PeerId
  try {
    peerId = peerIdFromDid(issuer)
  } catch (err) {
    const detail = err instanceof InvalidDidError ? err.message : `cannot derive a peer id from ${issuer.slice(0, 80)}: ${errorText(err)}`
    throw new JwtVerificationError('unsupported-did', `issuer ${detail}`, { cause: err })
  }
  if (signature.length !== 64) {
    throw new JwtVerificationError('bad-signature', `an Ed25519 signature is 64 bytes, got ${signature.length}`)
  }

  let signer: VerifiedJwt['signer']
  if (options.resolver == null) {
    // the default, offline did:key resolver: the key is in the DID itself, so
    // check the signature on Node's native Ed25519 (did-jwt's JavaScript
    // Ed25519 costs ~8 ms per token; this ~0.1 ms) - the same check
    if (!verifyJwsEd25519(jwt, peerId.publicKey.raw, signature)) {
      throw new JwtVerificationError('bad-signature', 'the signature does not match the issuer key')
    }
    const vm = didKeyDocument(issuer).verificationMethod?.[0]
    signer = { id: vm?.id ?? issuer, type: vm?.type ?? 'Multikey', controller: vm?.controller ?? issuer }
  } else {
    const { verifyJWT, JWT_ERROR } = await loadDidJwt()
    let verified: Awaited<ReturnType<typeof verifyJWT>>
    try {
      verified = await verifyJWT(jwt, {
        resolver: options.resolver,
        // claims are checked below, with typed reasons
        policies: { nbf: false, iat: false, exp: false, aud: false }
      })
    } catch (err) {
      throw classifyLibraryError(err, JWT_ERROR)
    }
    signer = { id: verified.signer.id, type: verified.signer.type, controller: verified.signer.controller }
  }

  checkClaims(payload, options)

  return {
    payload,
    issuer,
    signer,
    peerId
  }
}

interface DecodedJwt {
  header: Record<string, unknown>
  payload: JWTPayload
  signature: Uint8Array
}

const B64URL = /^[A-Za-z0-9_-]*$/
const UTF8 = new TextDecoder('utf-8', { fatal: true })

function decodeCompact (jwt: unknown): DecodedJwt {
  if (typeof jwt !== 'string') {
    throw new JwtVerificationError('malformed', `expected a string, got ${typeof jwt}`)
  }
  if (jwt.length > MAX_JWT_LENGTH) {
    throw new JwtVerificationError('malformed', `longer than ${MAX_JWT_LENGTH} characters`)
  }
  const parts = jwt.split('.')
  if (parts.length !== 3) {
    throw new JwtVerificationError('malformed', `a compact JWS has 3 dot-separated parts, got ${parts.length}`)
  }
  if (!parts.every(p => p.length > 0 && B64URL.test(p))) {
    throw new JwtVerificationError('malformed', 'a part is empty or not base64url')
  }
  const header = decodeJsonPart(parts[0], 'header')
  const payload = decodeJsonPart(parts[1], 'payload') as JWTPayload
  let signature: Uint8Array
  try {
    signature = base64url.baseDecode(parts[2])
  } catch (err) {
    throw new JwtVerificationError('malformed', 'the signature is not base64url', { cause: err })
  }
  return { header, payload, signature }
}

function decodeJsonPart (part: string, what: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(UTF8.decode(base64url.baseDecode(part)))
  } catch (err) {
    throw new JwtVerificationError('malformed', `the ${what} is not base64url-encoded JSON`, { cause: err })
  }
  if (value == null || typeof value !== 'object' || Array.isArray(value)) {
    throw new JwtVerificationError('malformed', `the ${what} is not a JSON object`)
  }
  return value as Record<string, unknown>
}

function classifyLibraryError (err: unknown, JWT_ERROR: typeof DidJwt.JWT_ERROR): JwtVerificationError {
  const message = err instanceof Error ? err.message : String(err)
  // did-jwt documents these prefixes (JWT_ERROR) as its error contract
  if (message.startsWith(JWT_ERROR.INVALID_SIGNATURE)) {
    return new JwtVerificationError('bad-signature', 'the signature does not match the issuer key', { cause: err })
  }
  if (message.startsWith(JWT_ERROR.RESOLVER_ERROR) || message.startsWith(JWT_ERROR.NO_SUITABLE_KEYS)) {
    return new JwtVerificationError('unsupported-did', errorText(err), { cause: err })
  }
  if (message.startsWith(JWT_ERROR.NOT_SUPPORTED)) {
    return new JwtVerificationError('unsupported-algorithm', errorText(err), { cause: err })
  }
  return new JwtVerificationError('malformed', errorText(err), { cause: err })
}

function checkClaims (payload: JWTPayload, options: VerifyJwtOptions): void {
  const skew = options.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS
  if (!Number.isFinite(skew) || skew < 0) {
    throw new RangeError(`verifyJwt: clockSkewSeconds must be a non-negative number (got ${String(options.clockSkewSeconds)})`)
  }
  const now = options.now ?? Math.floor(Date.now() / 1000)

  for (const claim of ['iat', 'nbf', 'exp'] as const) {
    const v = payload[claim]
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v))) {
      throw new JwtVerificationError('malformed', `the ${claim} claim is not a NumericDate`)
    }
  }
  if (options.requireExpiry === true && payload.exp === undefined) {
    throw new JwtVerificationError('malformed', 'the token has no exp claim and this verifier requires one')
  }
  if (payload.exp !== undefined && payload.exp <= now - skew) {
    throw new JwtVerificationError('expired', `expired at ${payload.exp}, now ${now}`)
  }
  if (payload.nbf !== undefined && payload.nbf > now + skew) {
    throw new JwtVerificationError('not-yet-valid', `not valid before ${payload.nbf}, now ${now}`)
  }
  if (payload.iat !== undefined && payload.iat > now + skew) {
    throw new JwtVerificationError('not-yet-valid', `issued in the future (iat ${payload.iat}, now ${now})`)
  }

  const aud = payload.aud
  if (aud !== undefined) {
    const list = Array.isArray(aud) ? aud : [aud]
    if (!list.every(a => typeof a === 'string')) {
      throw new JwtVerificationError('malformed', 'the aud claim is not a string or array of strings')
    }
    if (options.audience == null) {
      throw new JwtVerificationError('wrong-audience', 'the token is addressed to an audience but the verifier has none')
    }
    if (!list.includes(options.audience)) {
      throw new JwtVerificationError('wrong-audience', `the token is not addressed to ${options.audience}`)
    }
  }
}
