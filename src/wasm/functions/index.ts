/**
 * Functions on a peer, assembled: the Wasm runtime, the function store, the
 * invoker (/dcis/invoke/1.0.0), health checks, the `Function` and
 * `HealthCheck` manifest kinds and the HTTP routes. This is what MeshNode
 * wires in:
 *
 * Names, versions, rollbacks and HealthChecks live in the federation
 * catalogue (src/catalogue) passed as `catalogue`; without one the service
 * keeps a catalogue of its own peer alone (in its datastore: tests, tools).
 *
 *   const functions = createFunctionService({ libp2p, helia, datastore, catalogue, registry, rttMs, manifests, logger, metrics })
 *   await functions.start()              // after helia and the registry
 *   routes: [..., functions.routes()]    // ApiRoutes for createApiServer
 *   await functions.stop()               // before helia
 */
import { endAddresses } from '../../registry/dial.js'
import { createCatalogue } from '../../catalogue/index.js'
import { createWasmRuntime } from '../index.js'
import { forComponent } from '../../telemetry/index.js'
import { createHealthChecks, healthCheckManifestHandler } from '../health/index.js'
import { createFunctionInvoker, createFunctionRoutingMetrics } from '../routing/index.js'
import { functionRoutes } from '../routes.js'
import { createFunctionStore, functionManifestHandler } from '../store/index.js'
import { RolloutService } from '../../rollouts/service.js'
import type { RolloutServiceInit } from '../../rollouts/service.js'
import type { HostInterface, WasmRuntime, WasmRuntimeInit } from '../index.js'
import type { HealthChecks } from '../health/index.js'
import type { FunctionInvoker, InvokerComponents, InvokerInit } from '../routing/index.js'
import type { FunctionRoutesInit } from '../routes.js'
import type { FunctionStore, FunctionStoreComponents, FunctionStoreInit } from '../store/index.js'
import type { ApiRoutes } from '../../api/index.js'
import type { ManifestDispatcher } from '../../services/manifests/index.js'
import type { Logger, MetricsRegistry } from '../../telemetry/index.js'
import type { Catalogue } from '../../catalogue/index.js'
import type { Datastore } from 'interface-datastore'

export interface FunctionServiceComponents {
  libp2p: InvokerComponents['libp2p']
  helia: FunctionStoreComponents['helia']
  datastore: Datastore
  /** verified END descriptors (the node's EndRegistry fits) */
  registry?: { list: () => Array<{ end: { peerId: string, runtimes: string[], region?: string, multiaddrs?: string[] } }>, self?: () => { end: { region: string } } | undefined }
  /** this peer's region (rollout cohorts); default: the region of its own END in the registry */
  region?: string
  /** measured RTT to a peer, ms (MeshNode's PeerRttTracker.rttMs, or a latency oracle) */
  rttMs?: (peerId: string) => number | null
  /** where the Function and HealthCheck kinds are registered on start */
  manifests?: Pick<ManifestDispatcher, 'register' | 'unregister'>
  logger?: Logger
  metrics?: MetricsRegistry
  /** the federation catalogue (started and stopped by its owner); none: a local one of this peer alone */
  catalogue?: Catalogue
  /** a runtime built elsewhere (it is then started and stopped by its owner) */
  runtime?: WasmRuntime
  /** what functions reach through the host interface (kv, counters, logs, sinks, caches); read per call */
  host?: () => HostInterface | undefined
  /** re-authorises invocations other peers forward here (the caller's token) */
  authorizeCall?: InvokerComponents['authorizeCall']
}

export interface FunctionServiceInit {
  runtime?: Omit<WasmRuntimeInit, 'logger' | 'metrics'>
  store?: FunctionStoreInit
  invoker?: InvokerInit
  routes?: FunctionRoutesInit
  rollouts?: RolloutServiceInit
}

export interface FunctionService {
  readonly runtime: WasmRuntime
  readonly store: FunctionStore
  readonly invoker: FunctionInvoker
  readonly health: HealthChecks
  readonly catalogue: Catalogue
  /** canary rollouts (src/rollouts) */
  readonly rollouts: RolloutService
  start(): Promise<void>
  stop(): Promise<void>
  routes(): ApiRoutes
}

function child (logger: Logger | undefined, component: string): Logger | undefined {
  return logger != null ? forComponent(logger, component) : undefined
}

export function createFunctionService (c: FunctionServiceComponents, init: FunctionServiceInit = {}): FunctionService {
  const ownsRuntime = c.runtime == null
  const runtime = c.runtime ?? createWasmRuntime({ ...init.runtime, ...(c.host != null ? { host: c.host } : {}), ...(c.logger != null ? { logger: child(c.logger, 'dcis:wasm') } : {}), ...(c.metrics != null ? { metrics: c.metrics } : {}) })
  const metrics = c.metrics != null ? createFunctionRoutingMetrics(c.metrics) : undefined
  const ownsCatalogue = c.catalogue == null
  const catalogue = c.catalogue ?? createCatalogue({ peerId: c.libp2p.peerId.toString(), ...(c.logger != null ? { logger: child(c.logger, 'dcis:catalogue') } : {}) }, { datastore: c.datastore })
  // with a federation catalogue, every peer keeps the current modules (a function outlives the peer it was deployed through)
  const store = createFunctionStore({ helia: c.helia, datastore: c.datastore, catalogue, runtime, logger: child(c.logger, 'dcis:wasm:store') }, { prefetch: !ownsCatalogue, ...init.store })
  const registry = c.registry
  const invoker = createFunctionInvoker({
    libp2p: c.libp2p,
    runtime,
    store,
    ...(registry != null ? { candidates: () => registry.list().map(e => ({ peerId: e.end.peerId, runtimes: e.end.runtimes })), addressesOf: (p: string) => endAddresses(registry, p) } : {}),
    ...(c.rttMs != null ? { rttMs: c.rttMs } : {}),
    mayServe: (id, name) => rollouts.mayServe(id, name),
    ...(c.authorizeCall != null ? { authorizeCall: c.authorizeCall } : {}),
    observe: (name, id, ms, ok) => { rollouts.observe(name, id, ms, ok) },
    logger: child(c.logger, 'dcis:wasm:routing'),
    metrics
  }, init.invoker)
  const self = c.libp2p.peerId.toString()
  // who may run a health check: this peer and the connected federation members
  const live = (): string[] => {
    const connected = new Set(c.libp2p.getPeers().map(p => p.toString()))
    const members = registry?.list().map(e => e.end.peerId).filter(p => connected.has(p)) ?? []
    return [self, ...members]
  }
  const ownRegion = (): string => c.region ?? registry?.self?.()?.end.region ?? registry?.list().find(e => e.end.peerId === self)?.end.region ?? 'unknown'
  const rollouts = new RolloutService({
    catalogue,
    region: ownRegion,
    regions: () => [...new Set([ownRegion(), ...(registry?.list().map(e => e.end.region).filter((r): r is string => r != null) ?? [])])],
    live,
    ...(c.logger != null ? { logger: child(c.logger, 'dcis:rollouts') } : {}),
    ...(c.metrics != null ? { metrics: c.metrics } : {})
  }, init.rollouts)
  const health = createHealthChecks({ store, invoker, catalogue, live, logger: child(c.logger, 'dcis:wasm:health'), metrics })
  let started = false
  return {
    runtime,
    store,
    invoker,
    health,
    catalogue,
    rollouts,
    async start () {
      if (started) return
      const stack: Array<() => Promise<void>> = []
      try {
        if (ownsCatalogue) { await catalogue.start(); stack.push(async () => { await catalogue.stop() }) }
        if (ownsRuntime) { await runtime.start(); stack.push(async () => { await runtime.stop() }) }
        await store.start(); stack.push(async () => { await store.stop() })
        await invoker.start(); stack.push(async () => { await invoker.stop() })
        await health.start(); stack.push(async () => { await health.stop() })
        store.setVersionSelector((name) => rollouts.selectVersion(name))
        await rollouts.start(); stack.push(async () => { await rollouts.stop(); store.setVersionSelector(undefined) })
      } catch (err) {
        for (const undo of stack.reverse()) await undo().catch(() => {})
        throw err
      }
      c.manifests?.register('Function', functionManifestHandler(() => store, () => catalogue, () => rollouts))
      c.manifests?.register('HealthCheck', healthCheckManifestHandler(() => health))
      started = true
    },
    async stop () {
      if (!started) return
      started = false
      c.manifests?.unregister('Function')
      c.manifests?.unregister('HealthCheck')
      await rollouts.stop()
      store.setVersionSelector(undefined)
      await health.stop()
      await invoker.stop()
      await store.stop()
      if (ownsRuntime) await runtime.stop()
      if (ownsCatalogue) await catalogue.stop()
    },
    routes () {
      return functionRoutes({ store: () => store, invoker: () => invoker, health: () => health, rollouts: () => rollouts }, { ...(init.store?.maxModuleBytes != null ? { maxModuleBytes: init.store.maxModuleBytes } : {}), ...init.routes })
    }
  }
}
