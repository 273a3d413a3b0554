/**
 * Dial `protocol` on `peer`: through the peer store first, then (if that
 * fails and the signal has not fired) through the addresses the caller knows
 * for the peer, e.g. from the registry.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Libp2p, Stream } from '@libp2p/interface'

export async function dialPeer (libp2p: Libp2p, peer: string, protocol: string, addresses: () => string[], signal: AbortSignal): Promise<Stream> {
  try {
    return await libp2p.dialProtocol(peerIdFromString(peer), protocol, { signal, runOnLimitedConnection: true })
  } catch (err) {
    const addrs = addresses()
    if (addrs.length === 0 || signal.aborted) throw err
    return await libp2p.dialProtocol(addrs.map(a => multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${peer}`)), protocol, { signal, runOnLimitedConnection: true })
  }
}
