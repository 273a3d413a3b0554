/**
 * Provenance of key/value writes: who wrote (the caller's DID), when,
 * through which peer, signed by that peer (an EdDSA JWT with the peer's
 * identity). The record lives beside the value, in the same service, under
 * the reserved key `\0prov/<key>` (user keys cannot start with \0), so it is
 * replicated, sealed at rest and forwarded like the value itself. It names
 * the revision it attests: a record for an older revision is reported as
 * stale, never as the current writer.
 *
 * Written for callers identified by a token; a trusted loopback caller (a
 * local development mesh) has no identity to record.
 */
import { signJwt, verifyJwt } from '../identity/index.js'
import type { JwtSigningIdentity } from '../identity/index.js'

export const PROVENANCE_PREFIX = '\u0000prov/'

export interface ProvenanceClaims {
  /** the service and key */
  svc: string
  key: string
  /** the revision the write produced */
  rev: number
  /** the caller's DID */
  writer: string
  /** when, ISO 8601 */
  at: string
  /** the DID of the peer that took the write (also the JWT issuer) */
  via: string
}

export interface ProvenanceView extends ProvenanceClaims {
  /** the peer's signature checked out (issuer = via, claims as stored) */
  verified: boolean
  /** the record attests another revision than the value's current one */
  stale: boolean
  /** the signed record (compact JWS) */
  jwt: string
}

export function provenanceKey (key: string): string {
  return `${PROVENANCE_PREFIX}${key}`
}

export async function signProvenance (peer: JwtSigningIdentity, claims: Omit<ProvenanceClaims, 'via' | 'at'> & { at?: string }): Promise<string> {
  return await signJwt(peer, { prov: { ...claims, at: claims.at ?? new Date().toISOString(), via: peer.did } })
}

/** Verifies a stored record against the value it should describe; never throws for bad records (verified: false). */
export async function readProvenance (jwt: string, service: string, key: string, revision: number): Promise<ProvenanceView | null> {
  try {
    const v = await verifyJwt(jwt)
    const p = (v.payload as { prov?: ProvenanceClaims }).prov
    if (p == null || typeof p !== 'object' || p.svc !== service || p.key !== key || typeof p.rev !== 'number' || p.via !== v.issuer) {
      return null
    }
    return { svc: p.svc, key: p.key, rev: p.rev, writer: String(p.writer), at: String(p.at), via: p.via, verified: true, stale: p.rev !== revision, jwt }
  } catch {
    return null
  }
}
