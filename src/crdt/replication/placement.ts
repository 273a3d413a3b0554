/**
 * Replica placement (pure, deterministic): one replica per listed zone
 * first, then the least loaded candidates; ties broken by peer id, so every
 * peer with the same view computes the same placement.
 */
import { PlacementError } from './errors.js'

export interface PlacementCandidate {
  peerId: string
  region: string | null
  zone: string | null
  /** replicas this peer already holds (of other services) */
  load: number
}

export interface PlacementRequest {
  replicas: number
  zones: readonly string[]
}

function byLoad (a: PlacementCandidate, b: PlacementCandidate): number {
  return a.load - b.load || (a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0)
}

/**
 * Returns up to `replicas` peer ids (fewer when there are fewer candidates;
 * the caller records the shortfall). Throws PlacementError with no candidate.
 */
export function place (req: PlacementRequest, candidates: readonly PlacementCandidate[]): string[] {
  const seen = new Set<string>()
  const pool = candidates.filter(c => {
    if (seen.has(c.peerId)) return false
    seen.add(c.peerId)
    return true
  }).sort(byLoad)
  if (pool.length === 0) throw new PlacementError('no verified peer in the registry to place replicas on')
  const chosen: string[] = []
  const taken = new Set<string>()
  for (const zone of req.zones) {
    if (chosen.length >= req.replicas) break
    const c = pool.find(p => p.zone === zone && !taken.has(p.peerId))
    if (c == null) continue
    chosen.push(c.peerId)
    taken.add(c.peerId)
  }
  // then the listed zones again (a second replica per zone) before any other zone
  const inZones = new Set(req.zones)
  for (const pass of req.zones.length > 0 ? [true, false] : [false]) {
    for (const c of pool) {
      if (chosen.length >= req.replicas) break
      if (taken.has(c.peerId)) continue
      if (pass && !inZones.has(c.zone ?? '')) continue
      chosen.push(c.peerId)
      taken.add(c.peerId)
    }
  }
  return chosen
}
