/**
 * Dialling a federation member by peer id. libp2p dials through its peer
 * store and, when that has no addresses, a peer-routing (DHT) lookup. A
 * member known from its descriptor may have neither: this peer never
 * connected to it (its END came by gossip or from a third peer), or the peer
 * store entry aged out, and the DHT lookup can come back empty on a small or
 * churning mesh (a CI run of the eventual-services suite failed so:
 * NoValidAddressesError for a replica every peer had listed for a minute).
 * The addresses in the member's verified descriptor are then the fallback;
 * every client of a members-only protocol dials through here.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Libp2p, Stream } from '@libp2p/interface'

/** what the fallback needs of the registry: the verified descriptors' addresses */
export interface ListsAddresses {
  list: () => Array<{ end: { peerId: string, multiaddrs?: string[] } }>
}

/** the addresses `peer`'s verified descriptor announces (none when unknown) */
export function endAddresses (registry: ListsAddresses | undefined, peer: string): string[] {
  return registry?.list().find(e => e.end.peerId === peer)?.end.multiaddrs ?? []
}

/**
 * Open `protocol` on `peer`: through the peer store first, then (if that
 * fails and `signal` has not fired) through `addresses()`, each ending in
 * `/p2p/<peer>` (appended where missing).
 */
export async function dialPeer (libp2p: Pick<Libp2p, 'dialProtocol'>, peer: string, protocol: string, addresses: () => string[], signal: AbortSignal): Promise<Stream> {
  try {
    return await libp2p.dialProtocol(peerIdFromString(peer), protocol, { signal, runOnLimitedConnection: true })
  } catch (err) {
    const addrs = addresses()
    if (addrs.length === 0 || signal.aborted) throw err
    const self = `/p2p/${peer}`
    return await libp2p.dialProtocol(addrs.map(a => multiaddr(a.endsWith(self) ? a : `${a}${self}`)), protocol, { signal, runOnLimitedConnection: true })
  }
}
