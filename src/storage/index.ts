/**
 * Storage: the peer's on-disk stores and the helia instance built on the
 * node's own libp2p.
 *
 * Layout under the data dir:
 *   datastore/   LevelDB: libp2p peer store, DHT records, helia pins/metadata
 *   blocks/      one file per block (blockstore-fs), content addressed
 */
export { openStores } from './stores.js'
export type { NodeStores } from './stores.js'
export { createHeliaOn } from './helia.js'
export type { HeliaOnLibp2p, HeliaOnInit } from './helia.js'
export { Libp2pRouter } from './libp2p-router.js'
