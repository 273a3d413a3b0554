import { CredentialRejectedError } from './errors.js'
import { verifyCredential } from './credential.js'
import type { RevocationStore } from './revocation.js'
import type { TrustAnchors } from './anchors.js'
import type { CredentialRejectReason } from './errors.js'

export interface EffectiveTrust {
  level: number
  source: 'credential' | 'self-asserted'
  region: string | null
  /** the credentials that counted, by jti */
  credentials: string[]
}

/**
 * The federation trust policy: a peer's effective trust level is the
 * highest level granted by a valid credential of a trust anchor (capped by
 * that anchor's maxTrust), and its attested region that credential's region;
 * without one, trust is 0 and marked self-asserted.
 */
export class TrustPolicy {
  readonly anchors: TrustAnchors
  readonly revocations: RevocationStore
  private readonly anchorSet: Set<string>
  private readonly onReject?: (reason: CredentialRejectReason) => void

  constructor (anchors: TrustAnchors, revocations: RevocationStore, onReject?: (reason: CredentialRejectReason) => void) {
    this.anchors = anchors
    this.revocations = revocations
    this.anchorSet = new Set(anchors.anchors.map(a => a.did))
    this.onReject = onReject
  }

  anchorDids (): ReadonlySet<string> {
    return this.anchorSet
  }

  async evaluate (subjectDid: string, credentials: string[], now?: number): Promise<EffectiveTrust> {
    let best: EffectiveTrust = { level: 0, source: 'self-asserted', region: null, credentials: [] }
    for (const jwt of credentials) {
      try {
        const c = await verifyCredential(jwt, {
          anchors: this.anchorSet,
          federation: this.anchors.federation,
          subject: subjectDid,
          now,
          isRevoked: (issuer, jti) => this.revocations.isRevoked(issuer, jti)
        })
        const cap = this.anchors.anchors.find(a => a.did === c.issuer)?.maxTrust ?? 0
        const level = Math.min(cap, c.claims.trustLevel)
        if (best.source === 'self-asserted' || level > best.level) {
          best = { level, source: 'credential', region: c.claims.region ?? best.region, credentials: [...best.credentials, c.jti] }
        } else {
          best.credentials.push(c.jti)
        }
      } catch (err) {
        if (err instanceof CredentialRejectedError) this.onReject?.(err.reason)
        else throw err
      }
    }
    return best
  }
}
