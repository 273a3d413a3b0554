import { registryRoutes } from '../registry/routes.js'
import { serviceRoutes } from '../services/index.js'
import type { JwtSigningIdentity } from '../identity/index.js'
import { manifestRoutes } from '../services/manifests/index.js'
import { meshRoutes } from './routes.js'
import { natRoutes } from './nat-routes.js'
import type { NatMonitor } from './nat.js'
import type { PubsubInbox } from './pubsub-inbox.js'
import type { ApiRoutes } from '../api/index.js'
import type { EndRegistry } from '../registry/index.js'
import type { StatefulServices } from '../services/index.js'
import type { LatencyService } from '../latency/service/index.js'
import { latencyRoutes } from '../latency/service/routes.js'
import { allocationRoutes } from '../scheduler/index.js'
import { crdtLogRoutes, crdtSetRoutes } from '../crdt/service/index.js'
import { sinkRoutes } from '../sinks/index.js'
import type { SinkService } from '../sinks/index.js'
import { cacheRoutes } from '../caches/index.js'
import type { CacheService } from '../caches/index.js'
import { functionRoutes } from '../wasm/routes.js'
import { rolloutRoutes } from '../rollouts/routes.js'
import { catalogueRoutes } from '../catalogue/index.js'
import { uiRoutes } from '../ui/routes.js'
import type { Catalogue } from '../catalogue/index.js'
import type { FunctionService } from '../wasm/functions/index.js'
import type { CrdtBackend } from '../crdt/service/index.js'
import type { AllocationService } from '../scheduler/index.js'
import type { ManifestDispatcher } from '../services/manifests/index.js'
import type { HeliaOnLibp2p } from '../storage/index.js'
import type { MeshLibp2p } from './libp2p.js'

/** Lazy getters for what the capability routes serve from (called per request, never at registration). */
export interface CapabilityRouteSources {
  libp2p: () => MeshLibp2p
  helia: () => HeliaOnLibp2p
  inbox: () => PubsubInbox
  registry: () => EndRegistry
  manifests: () => ManifestDispatcher
  services: () => StatefulServices
  latency: () => LatencyService
  alloc: () => AllocationService
  crdt: () => CrdtBackend
  functions: () => FunctionService
  catalogue: () => Catalogue
  sinks: () => SinkService
  caches: () => CacheService
  /** the peer identity that signs provenance records of service writes */
  provenance?: () => JwtSigningIdentity | undefined
  nat: () => NatMonitor
}

/**
 * Every capability's HTTP routes, in the order MeshNode serves them. The
 * OpenAPI generator (src/api/openapi-write.ts) documents exactly this list,
 * so a route added here is in protocols/http/openapi.yaml too.
 */
export function capabilityRoutes (s: CapabilityRouteSources): ApiRoutes[] {
  return [
    meshRoutes({ libp2p: s.libp2p, helia: s.helia, inbox: s.inbox }),
    registryRoutes(s.registry),
    manifestRoutes(s.manifests),
    serviceRoutes(s.services, s.provenance),
    latencyRoutes({
      get selfId () { return s.latency().selfId },
      map: () => s.latency().map(),
      estimateBetween: (a, b) => s.latency().estimateBetween(a, b)
    }),
    allocationRoutes(s.alloc),
    crdtSetRoutes(s.crdt),
    crdtLogRoutes(s.crdt),
    functionRoutes({ store: () => s.functions().store, invoker: () => s.functions().invoker, health: () => s.functions().health, rollouts: () => s.functions().rollouts }),
    rolloutRoutes({ rollouts: () => s.functions().rollouts, store: () => s.functions().store }),
    catalogueRoutes(s.catalogue),
    uiRoutes(),
    sinkRoutes(s.sinks),
    cacheRoutes(s.caches),
    natRoutes(() => s.nat().view())
  ]
}
