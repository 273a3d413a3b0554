/**
 * Residency (pure): `dataSharding.zones` entries name a region or a zone. A
 * peer is eligible for a service's replicas when its region or its zone is
 * one of the entries (any peer when the list is empty); replicas are never
 * placed on other peers. An entry that no replica serves is "unserved" and
 * named in the service's conditions.
 */

export interface Located {
  region: string | null
  zone: string | null
}

/** whether `peer` lies in the zone-or-region `entry` */
export function inEntry (peer: Located, entry: string): boolean {
  return (peer.region !== null && peer.region === entry) || (peer.zone !== null && peer.zone === entry)
}

/** whether `peer` may hold a replica of a service listing `zones` ([] = anywhere) */
export function eligible (peer: Located, zones: readonly string[]): boolean {
  return zones.length === 0 || zones.some(z => inEntry(peer, z))
}

/** the listed entries that none of `replicas` lies in */
export function unservedZones (zones: readonly string[], replicas: readonly Located[]): string[] {
  return zones.filter(z => !replicas.some(r => inEntry(r, z)))
}

/** the listed entries in which no peer of `peers` is eligible at all */
export function emptyZones (zones: readonly string[], peers: readonly Located[]): string[] {
  return zones.filter(z => !peers.some(p => inEntry(p, z)))
}
