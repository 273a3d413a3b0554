/**
 * Revocation lists: a JWT signed by a trust anchor listing the `jti`s of
 * credentials it revokes. The newest list per anchor (by `iat`) wins; lists
 * are gossiped on `dcis/revocations/1`, and every held descriptor's trust is
 * re-evaluated when a newer list arrives.
 */
import { signJwt, verifyJwt } from '../jwt.js'
import { CredentialRejectedError } from './errors.js'
import type { JwtSigningIdentity } from '../jwt.js'

export const REVOCATION_TOPIC = 'dcis/revocations/1'
export const MAX_REVOCATION_BYTES = 64 * 1024
export const MAX_REVOKED = 1000

export interface RevocationList {
  issuer: string
  federation: string
  revoked: string[]
  iat: number
  jwt: string
}

export async function issueRevocationList (issuer: JwtSigningIdentity, federation: string, revoked: string[], issuedAt?: number): Promise<string> {
  if (revoked.length > MAX_REVOKED) throw new RangeError(`at most ${MAX_REVOKED} revoked credentials per list`)
  return signJwt(issuer, { type: 'RevocationList', federation, revoked }, { issuedAt })
}

export async function verifyRevocationList (jwt: string, options: { anchors: ReadonlySet<string>, federation: string, now?: number }): Promise<RevocationList> {
  if (typeof jwt !== 'string' || jwt.length > MAX_REVOCATION_BYTES) throw new CredentialRejectedError('malformed', 'revocation list too large')
  let payload: Record<string, unknown>
  let issuer: string
  try {
    const v = await verifyJwt(jwt, { now: options.now, clockSkewSeconds: 10 * 365 * 86400 })
    payload = v.payload as Record<string, unknown>
    issuer = v.issuer
  } catch (err) {
    throw new CredentialRejectedError('bad-signature', (err as Error).message, { cause: err })
  }
  if (!options.anchors.has(issuer)) throw new CredentialRejectedError('unknown-issuer', `${issuer} is not a trust anchor`)
  const revoked = payload.revoked
  if (payload.type !== 'RevocationList' || !Array.isArray(revoked) || revoked.length > MAX_REVOKED || !revoked.every(r => typeof r === 'string' && r.length <= 128) || typeof payload.iat !== 'number') {
    throw new CredentialRejectedError('malformed', 'not a RevocationList')
  }
  if (payload.federation !== options.federation) throw new CredentialRejectedError('wrong-federation', `for ${String(payload.federation)}`)
  const now = options.now ?? Math.floor(Date.now() / 1000)
  if (payload.iat > now + 30) throw new CredentialRejectedError('future', 'issued in the future')
  return { issuer, federation: options.federation, revoked: revoked as string[], iat: payload.iat, jwt }
}

/** The newest revocation list of each anchor. */
export class RevocationStore {
  private readonly lists = new Map<string, RevocationList>()
  private readonly revoked = new Map<string, Set<string>>()

  /** true when the list replaced an older one */
  offer (list: RevocationList): boolean {
    const held = this.lists.get(list.issuer)
    if (held != null && held.iat >= list.iat) return false
    this.lists.set(list.issuer, list)
    this.revoked.set(list.issuer, new Set(list.revoked))
    return true
  }

  isRevoked (issuer: string, jti: string): boolean {
    return this.revoked.get(issuer)?.has(jti) ?? false
  }

  all (): RevocationList[] {
    return [...this.lists.values()]
  }
}
