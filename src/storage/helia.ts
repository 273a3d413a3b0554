import { withBitswap } from '@helia/bitswap'
import { createHeliaLight } from 'helia'
import * as json from 'multiformats/codecs/json'
import { Libp2pRouter } from './libp2p-router.js'
import type { NodeStores } from './stores.js'
import type { Helia } from '@helia/interface'
import type { ComponentLogger, Libp2p } from '@libp2p/interface'

export type HeliaOnLibp2p = Helia & { libp2p: Libp2p }

export interface HeliaOnInit {
  libp2p: Libp2p
  stores: NodeStores
  logger?: ComponentLogger
}

/**
 * Builds helia on the node's own libp2p instance (never a second libp2p):
 * blocks and pins in the node's stores, bitswap over our connections, and a
 * single router backed by our DHT. Nothing is configured that would reach
 * public bootstrap peers, delegated routers or HTTP gateways.
 *
 * The caller starts and stops libp2p; helia.start()/stop() only start and
 * stop helia's own parts (bitswap, pins, GC lock).
 */
export function createHeliaOn (init: HeliaOnInit): HeliaOnLibp2p {
  const helia = createHeliaLight({
    blockstore: init.stores.blockstore,
    datastore: init.stores.datastore,
    codecs: [json],
    routers: [new Libp2pRouter(init.libp2p)],
    ...(init.logger != null ? { logger: init.logger } : {})
  }) as unknown as HeliaOnLibp2p
  // bitswap reads `helia.libp2p` when it starts
  Object.defineProperty(helia, 'libp2p', { value: init.libp2p, enumerable: true })
  // blocks also travel over limited (relayed) connections: a peer behind NAT
  // fetches a module from a peer it only reaches through a relay (docs/nat.md)
  return withBitswap(helia as never, { runOnLimitedConnections: true }) as unknown as HeliaOnLibp2p
}
