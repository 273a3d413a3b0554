/**
 * The eventual ServiceBackend (delta CRDTs; see ../replication for the pure
 * parts). Wire it into a node:
 *
 *   const crdt = await createCrdtBackend({ libp2p, registry, datastore, logger, metrics, rtt })
 *   node.services.addBackend(crdt)            // routes eventual manifests + data API here
 *   routes: [crdtSetRoutes(() => crdt)]        // /v1/services/{name}/sets/{key}
 *   ... await crdt.stop() before libp2p stops
 */
import { CrdtBackend } from './backend.js'
import type { CrdtBackendComponents, CrdtBackendInit } from './backend.js'

export { CrdtBackend, SYNC_PROTOCOL, CATALOGUE_TOPIC } from './backend.js'
export type { CrdtBackendComponents, CrdtBackendInit, CrdtRegistryView } from './backend.js'
export { RPC_PROTOCOL } from './rpc.js'
export { crdtSetRoutes } from './routes.js'

/** Creates and starts the backend (loads the catalogue and local replicas from the datastore). */
export async function createCrdtBackend (components: CrdtBackendComponents, init: CrdtBackendInit = {}): Promise<CrdtBackend> {
  const b = new CrdtBackend(components, init)
  await b.start()
  return b
}
