/**
 * Replica placement (pure, deterministic). Residency first: with listed
 * zones, only peers whose region or zone is listed are candidates (never any
 * other peer); one replica per listed zone first (in the order listed), then
 * further replicas in the listed zones, least loaded first; ties broken by
 * peer id, so every peer with the same view computes the same placement.
 * `placeMore` adds replicas to an existing placement without moving any
 * (resizes and repairs): it serves the listed zones the placement lacks first.
 */
import { eligible, inEntry } from '../../services/residency.js'
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

function pool (req: PlacementRequest, candidates: readonly PlacementCandidate[]): PlacementCandidate[] {
  const seen = new Set<string>()
  return candidates.filter(c => {
    if (seen.has(c.peerId)) return false
    seen.add(c.peerId)
    return eligible(c, req.zones)
  }).sort(byLoad)
}

/**
 * Adds replicas to `existing` (kept as they are, in order) until `replicas`
 * are placed or no eligible candidate is left; the caller records a shortfall.
 * `existingAt` locates the existing replicas (for the zones they serve).
 */
export function placeMore (req: PlacementRequest, existing: readonly string[], existingAt: ReadonlyMap<string, { region: string | null, zone: string | null }>, candidates: readonly PlacementCandidate[]): string[] {
  const chosen = [...existing]
  const taken = new Set(existing)
  const located = (id: string): { region: string | null, zone: string | null } => existingAt.get(id) ?? candidates.find(c => c.peerId === id) ?? { region: null, zone: null }
  const eligibleNow = pool(req, candidates).filter(c => !taken.has(c.peerId))
  // one replica in each listed zone that has none yet, in the order listed
  for (const zone of req.zones) {
    if (chosen.length >= req.replicas) break
    if (chosen.some(id => inEntry(located(id), zone))) continue
    const c = eligibleNow.find(p => inEntry(p, zone) && !taken.has(p.peerId))
    if (c == null) continue
    chosen.push(c.peerId)
    taken.add(c.peerId)
  }
  // then any eligible peer (inside the listed zones when there are any), least loaded first
  for (const c of eligibleNow) {
    if (chosen.length >= req.replicas) break
    if (taken.has(c.peerId)) continue
    chosen.push(c.peerId)
    taken.add(c.peerId)
  }
  return chosen
}

/**
 * Returns up to `replicas` peer ids (fewer when there are fewer eligible
 * candidates; the caller records the shortfall). Throws PlacementError when
 * no candidate is eligible.
 */
export function place (req: PlacementRequest, candidates: readonly PlacementCandidate[]): string[] {
  if (pool(req, candidates).length === 0) {
    throw new PlacementError(req.zones.length > 0
      ? `no verified peer in the listed zones (${req.zones.join(', ')}) to place replicas on`
      : 'no verified peer in the registry to place replicas on')
  }
  return placeMore(req, [], new Map(), candidates)
}
