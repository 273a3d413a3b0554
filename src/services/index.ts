/**
 * Stateful services: EdgeStatefulService manifests routed to a consistency
 * backend (strong: Raft, eventual: CRDTs), and the data API over them.
 */
export { StatefulServices, specFromManifest } from './stateful.js'
export { serviceRoutes } from './routes.js'
export type { ServiceSpec, ServiceStatus, ServiceCondition, ReplicaStatus, KvEntry, ServiceBackend, ReadOptions, WriteOptions } from './types.js'
export { PeerLiveness, DEFAULT_REPAIR_GRACE_MS } from './liveness.js'
export { eligible, inEntry, unservedZones, emptyZones } from './residency.js'
export { serviceConditions } from './conditions.js'
export {
  ServiceNotFoundError, KeyNotFoundError, RevisionMismatchError, BackendUnavailableError,
  ServiceConflictError, OperationNotSupportedError, ServiceUnavailableError, SERVICE_ERROR_STATUS
} from './errors.js'
