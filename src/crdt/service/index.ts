/**
 * The eventual ServiceBackend (delta CRDTs, or automerge documents when the
 * manifest says `crdtEngine: automerge`; pure parts in ../replication).
 * Wiring in MeshNode.start (after the registry):
 *
 *   this.crdt = await createCrdtBackend({
 *     libp2p: this.libp2p, registry: this.registry, datastore: this.stores.datastore,
 *     logger: forComponent(this.init.logger, 'dcis:crdt'), metrics: this.metrics,
 *     rtt: (p) => this.latency?.rttMs(p) ?? undefined
 *   })
 *   this.services.addBackend(this.crdt)
 *   this.stopHooks.push(async () => { this.services.removeBackend('eventual'); await this.crdt?.stop() })
 *   routes: [crdtSetRoutes(() => this.crdt as CrdtBackend)]   // /v1/services/{name}/sets/{key}
 *
 * Semantics (eventual services):
 * - revision (kv): delta engine: the winning write's HLC packed as
 *   wall*4096+min(logical,4095) (grows per key, comparable across replicas,
 *   not consecutive); automerge engine: number of writes+deletes of the key
 *   merged from all replicas (per-peer slots summed), so it also only grows.
 * - ifRevision: checked best-effort against the answering replica's state
 *   (0 = absent); 409 on mismatch. It is not a mesh-wide compare-and-set.
 * - automerge kv values must be JSON (422 otherwise); GET returns JSON text.
 * - staleness: age of the oldest update this replica knows exists (from
 *   peers' deltas/heartbeats: origin update count + HLC) and has not seen;
 *   a lower bound (a silent partition reports 0). Metric
 *   dcis_crdt_staleness_seconds{service}, ServiceStatus.stalenessMs, warn log
 *   event 'staleness-exceeded' above maxStalenessMs.
 */
import { CrdtBackend } from './backend.js'
import type { CrdtBackendComponents, CrdtBackendInit } from './backend.js'

export { CrdtBackend, SYNC_PROTOCOL, CATALOGUE_TOPIC, MAX_LOG_APPEND, MAX_LOG_READ } from './backend.js'
export type { CrdtBackendComponents, CrdtBackendInit, CrdtRegistryView, LogRecord, LogReadRange } from './backend.js'
export { RPC_PROTOCOL } from './rpc.js'
export { crdtSetRoutes, crdtLogRoutes, InvalidCursorError } from './routes.js'

/** Creates and starts the backend (loads the catalogue and local replicas from the datastore). */
export async function createCrdtBackend (components: CrdtBackendComponents, init: CrdtBackendInit = {}): Promise<CrdtBackend> {
  const b = new CrdtBackend(components, init)
  await b.start()
  return b
}
