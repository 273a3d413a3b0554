import { peerIdFromCID } from '@libp2p/peer-id'
import type { Peer, Provider, Router, RoutingOptions } from '@helia/interface'
import type { AbortOptions, Libp2p, PeerInfo } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

function toPeer (info: PeerInfo): Peer & { router: string } {
  return { id: info.id.toCID(), multiaddrs: info.multiaddrs, router: 'libp2p-router' }
}

/**
 * A helia router that answers from the node's own libp2p content and peer
 * routing (our kad-dht), and nothing else: no delegated HTTP routing, no
 * public gateways.
 */
export class Libp2pRouter implements Router {
  readonly name = 'libp2p-router'
  private readonly libp2p: Libp2p

  constructor (libp2p: Libp2p) {
    this.libp2p = libp2p
  }

  async provide (cid: CID, options?: RoutingOptions): Promise<void> {
    await this.libp2p.contentRouting.provide(cid, options)
  }

  async cancelReprovide (key: CID, options?: AbortOptions): Promise<void> {
    await this.libp2p.contentRouting.cancelReprovide(key, options)
  }

  async * findProviders (cid: CID, options?: RoutingOptions): AsyncIterable<Provider> {
    for await (const info of this.libp2p.contentRouting.findProviders(cid, options)) {
      yield { ...toPeer(info), fallback: false }
    }
  }

  async put (key: Uint8Array, value: Uint8Array, options?: RoutingOptions): Promise<void> {
    await this.libp2p.contentRouting.put(key, value, options)
  }

  async get (key: Uint8Array, options?: RoutingOptions): Promise<Uint8Array<ArrayBuffer>> {
    const value = await this.libp2p.contentRouting.get(key, options)
    return new Uint8Array(value)
  }

  async findPeer (peerId: CID, options?: RoutingOptions): Promise<Peer> {
    return toPeer(await this.libp2p.peerRouting.findPeer(peerIdFromCID(peerId), options))
  }

  async * getClosestPeers (key: Uint8Array, options?: RoutingOptions): AsyncIterable<Peer> {
    for await (const info of this.libp2p.peerRouting.getClosestPeers(key, options)) {
      yield toPeer(info)
    }
  }

  toString (): string {
    return 'Libp2pRouter()'
  }
}
