import type { EdgeNodeDescriptor } from './descriptor.js'
import { normaliseArch } from './descriptor.js'
import type { VerifiedDescriptor } from './vc.js'

export type DescriptorSource = 'self' | 'gossip' | 'dht' | 'sync' | 'api'

export interface RegistryEntry extends VerifiedDescriptor {
  /** CID of the descriptor block in helia, when known */
  cid: string | null
  source: DescriptorSource
  receivedAt: number
  /** effective trust level: from credentials of trust anchors, else 0 */
  trustLevel: number
  trustSource: 'credential' | 'self-asserted'
  /** region attested by a trust anchor's credential, if any */
  attestedRegion: string | null
}

export interface RegistryFilter {
  region?: string
  minCpu?: number
  minMemoryMb?: number
  tee?: boolean
  trust?: number
  arch?: string
}

export type OfferResult = 'added' | 'updated' | 'duplicate' | 'stale'

/**
 * Verified descriptors by peer id, newest `iat` wins; entries leave at their
 * expiry. Bounded: past `maxEntries` the entry expiring soonest is evicted.
 */
export class RegistryCache {
  private readonly entries = new Map<string, RegistryEntry>()
  private readonly maxEntries: number

  constructor (init: { maxEntries?: number } = {}) {
    this.maxEntries = init.maxEntries ?? 10_000
  }

  offer (entry: RegistryEntry): OfferResult {
    const held = this.entries.get(entry.end.peerId)
    if (held != null) {
      if (entry.iat < held.iat) return 'stale'
      if (entry.iat === held.iat && entry.jwt === held.jwt) {
        if (held.cid == null && entry.cid != null) held.cid = entry.cid
        return 'duplicate'
      }
      if (entry.iat === held.iat) return 'stale'
    }
    this.entries.set(entry.end.peerId, entry)
    if (held == null && this.entries.size > this.maxEntries) this.evictOne()
    return held == null ? 'added' : 'updated'
  }

  get (peerId: string, now = Date.now() / 1000): RegistryEntry | undefined {
    const e = this.entries.get(peerId)
    if (e != null && e.exp <= now) {
      this.entries.delete(peerId)
      return undefined
    }
    return e
  }

  /** Drops expired entries; returns the peer ids removed. */
  expire (now = Date.now() / 1000): string[] {
    const gone: string[] = []
    for (const [id, e] of this.entries) {
      if (e.exp <= now) { this.entries.delete(id); gone.push(id) }
    }
    return gone
  }

  list (filter: RegistryFilter = {}, now = Date.now() / 1000): RegistryEntry[] {
    this.expire(now)
    return [...this.entries.values()].filter(e => matches(e, filter)).sort((a, b) => a.end.peerId.localeCompare(b.end.peerId))
  }

  jwts (): string[] {
    return [...this.entries.values()].map(e => e.jwt)
  }

  get size (): number {
    return this.entries.size
  }

  private evictOne (): void {
    let victim: RegistryEntry | undefined
    for (const e of this.entries.values()) {
      if (e.source !== 'self' && (victim == null || e.exp < victim.exp)) victim = e
    }
    if (victim != null) this.entries.delete(victim.end.peerId)
  }
}

export function matches (e: RegistryEntry, f: RegistryFilter): boolean {
  const end: EdgeNodeDescriptor = e.end
  if (f.region != null && end.region !== f.region) return false
  if (f.minCpu != null && end.cpu.cores < f.minCpu) return false
  if (f.minMemoryMb != null && end.memory.totalMb < f.minMemoryMb) return false
  if (f.tee != null && end.tee.available !== f.tee) return false
  if (f.trust != null && e.trustLevel < f.trust) return false
  // ENDs carry OCI/GOARCH names; a filter may use Node's or uname's (x64, x86_64, aarch64)
  if (f.arch != null && normaliseArch(end.arch) !== normaliseArch(f.arch)) return false
  return true
}
