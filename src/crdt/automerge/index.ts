/**
 * The automerge engine (`crdtEngine: automerge`): one automerge document per
 * service (see doc.ts for the data model), replicated between the service's
 * replicas with automerge's sync protocol over libp2p streams
 * (`/dcis/crdt-automerge-sync/1.0.0`, see replica.ts), with the same
 * catalogue, placement, forwarding and staleness accounting as the delta
 * engine (../service/backend.ts hosts both).
 */
export * as amDoc from './doc.js'
export { baseDoc, actorOf } from './doc.js'
export type { ServiceDoc } from './doc.js'
export { AutomergeReplica, AutomergeFrameError, AUTOMERGE_SYNC_PROTOCOL, MAX_ROUNDS } from './replica.js'
export type { FrameStream } from './replica.js'
