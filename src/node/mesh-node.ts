import { createApiServer } from '../api/index.js'
import { ApiAuth } from '../api/auth.js'
import { readFile } from 'node:fs/promises'
import { loadTrustAnchors, RevocationStore, TrustPolicy } from '../identity/federation/index.js'
import { createRegistry, endSelector, endValidator, END_NAMESPACE } from '../registry/index.js'
import { StatefulServices } from '../services/index.js'
import { ManifestDispatcher } from '../services/manifests/index.js'
import { loadOrCreateIdentity } from '../identity/index.js'
import { openStores, createHeliaOn } from '../storage/index.js'
import { createMetricsRegistry, forComponent, TrafficMeter } from '../telemetry/index.js'
import { createMeshLibp2p } from './libp2p.js'
import { FederationKeeper } from './keeper.js'
import { LinkMonitor } from './link-monitor.js'
import { memoizeProtocolMerges } from './peer-store-memo.js'
import { createLatencyService } from '../latency/service/index.js'
import { LinkFaults, LinkFaultsFile } from '../latency/emulator/index.js'
import { createAllocationService, ServiceReservations } from '../scheduler/index.js'
import { createRaftBackend } from '../raft/service/index.js'
import { createCrdtBackend } from '../crdt/service/index.js'
import { createFunctionService } from '../wasm/functions/index.js'
import { createCatalogue, manifestSpecCheck } from '../catalogue/index.js'
import type { Catalogue } from '../catalogue/index.js'
import { join } from 'node:path'
import type { FunctionService } from '../wasm/functions/index.js'
import type { CrdtBackend } from '../crdt/service/index.js'
import type { AllocationService } from '../scheduler/index.js'
import type { LatencyService } from '../latency/service/index.js'
import { PubsubInbox } from './pubsub-inbox.js'
import { capabilityRoutes } from './capability-routes.js'
import { AGENT, VERSION } from './version.js'
import type { ApiNode, ApiRoutes, ApiServer, NodeInfoView, PeerView } from '../api/index.js'
import type { DcisConfig } from '../config/index.js'
import type { NodeIdentity } from '../identity/index.js'
import type { EndRegistry } from '../registry/index.js'
import type { HeliaOnLibp2p, NodeStores } from '../storage/index.js'
import type { Logger, MetricsRegistry } from '../telemetry/index.js'
import type { MeshLibp2p } from './libp2p.js'
import type { Multiaddr } from '@multiformats/multiaddr'

export type NodeStatus = 'stopped' | 'starting' | 'started' | 'stopping'

export interface MeshNodeInit {
  config: DcisConfig
  /** already resolved bootstrap peers (multiaddrs with /p2p/<peerId>) */
  bootstrapPeers: Multiaddr[]
  logger: Logger
  /** extra HTTP route plugins contributed by capabilities */
  routes?: ApiRoutes[]
  /** turn off the HTTP API (tests that only need the peer) */
  api?: boolean
  /** the federation's trust anchors file (default: config.trustAnchors, else none) */
  trustAnchorsFile?: string
}

/**
 * One dcis peer: identity, stores, libp2p, helia, the latency service, the
 * registry, allocations, the Raft and CRDT service backends, Wasm functions,
 * the federation keeper and the HTTP API, started in that order and stopped
 * in reverse (docs/architecture.md). A failed start stops whatever had
 * already started.
 */
export class MeshNode implements ApiNode {
  readonly config: DcisConfig
  readonly logger: Logger
  readonly metrics: MetricsRegistry
  status: NodeStatus = 'stopped'
  identity!: NodeIdentity
  libp2p!: MeshLibp2p
  helia!: HeliaOnLibp2p
  api?: ApiServer
  private stores?: NodeStores
  latency?: LatencyService
  alloc?: AllocationService
  crdt?: CrdtBackend
  functions?: FunctionService
  /** the federation catalogue: functions, versions, rollbacks, applied manifests */
  catalogue?: Catalogue
  private inbox?: PubsubInbox
  registry!: EndRegistry
  /** capabilities register the manifest kinds they own here */
  readonly manifests = new ManifestDispatcher()
  /** EdgeStatefulService front; the Raft and CRDT backends attach to it */
  readonly services = new StatefulServices(this.manifests)
  private readonly init: MeshNodeInit
  private bootstrapped = false
  private readonly stopHooks: Array<() => Promise<void> | void> = []

  constructor (init: MeshNodeInit) {
    this.init = init
    this.config = init.config
    this.logger = forComponent(init.logger, 'dcis:node')
    this.metrics = createMetricsRegistry()
  }

  /** Link faults from `simulation.faultsFile`, followed while the node runs (simulations, fault tests). */
  private async startLinkFaults (): Promise<LinkFaults | undefined> {
    const path = this.config.simulation.faultsFile
    if (path == null) return undefined
    const faults = new LinkFaults()
    const file = new LinkFaultsFile({ path, faults, log: forComponent(this.init.logger, 'dcis:latency:emulator') })
    await file.start()
    this.stopHooks.push(async () => { await file.stop() })
    return faults
  }

  async start (): Promise<void> {
    if (this.status === 'started' || this.status === 'starting') return
    this.status = 'starting'
    try {
      const { created, ...identity } = await loadOrCreateIdentity(this.config.dataDir)
      this.identity = identity
      this.logger.info({ peerId: identity.peerId.toString(), did: identity.did, created }, 'identity loaded')

      this.stores = await openStores(this.config.dataDir)
      this.stopHooks.push(async () => { await this.stores?.close() })

      const linkFaults = await this.startLinkFaults()
      this.libp2p = await createMeshLibp2p({
        config: this.config,
        privateKey: identity.privateKey,
        datastore: this.stores.datastore,
        metrics: this.metrics,
        bootstrapPeers: this.init.bootstrapPeers,
        agentVersion: AGENT,
        logger: forComponent(this.init.logger, 'dcis:latency:emulator'),
        linkFaults,
        dhtValidators: {
          [END_NAMESPACE]: endValidator({
            onReject: (reason, source) => { this.registry?.metrics.rejected.inc({ reason, source }) },
            newestIat: (peerId) => this.registry?.cache.get(peerId)?.iat,
            signatures: () => this.registry?.signatures
          })
        },
        dhtSelectors: { [END_NAMESPACE]: endSelector() }
      })
      this.libp2p.addEventListener('peer:connect', (evt) => {
        this.markBootstrapped(evt.detail.toString())
      })
      // no peer-store write per stream opened for a protocol already on record
      const unmemo = memoizeProtocolMerges(this.libp2p)
      this.stopHooks.push(unmemo)
      await this.libp2p.start()
      this.stopHooks.push(async () => { await this.libp2p.stop() })
      // dead-link detection (libp2p's own monitor is off: see libp2p.ts)
      const links = new LinkMonitor(this.libp2p, forComponent(this.init.logger, 'dcis:links'))
      links.start()
      this.stopHooks.push(() => { links.stop() })
      const traffic = new TrafficMeter(this.metrics)
      traffic.start()
      this.stopHooks.push(() => { traffic.stop() })
      // with no bootstrap list this peer is the first of its federation
      if (this.init.bootstrapPeers.length === 0) this.bootstrapped = true

      this.helia = createHeliaOn({ libp2p: this.libp2p, stores: this.stores, logger: this.libp2p.logger })
      await this.helia.start()
      this.stopHooks.push(async () => { await this.helia.stop() })

      this.inbox = new PubsubInbox(this.libp2p)
      this.inbox.start()
      this.stopHooks.push(() => { this.inbox?.stop() })

      const { probeIntervalMs, gossipIntervalMs } = this.config.latency
      this.latency = createLatencyService({ libp2p: this.libp2p, metrics: this.metrics, logger: forComponent(this.init.logger, 'dcis:latency') }, {
        probeIntervalMs,
        gossipIntervalMs,
        // a sender may gossip a little faster than we do, never flood
        rateLimit: { burst: 3, refillMs: Math.max(100, Math.floor(gossipIntervalMs * 0.3)) }
      })
      await this.latency.start()
      this.stopHooks.push(async () => { await this.latency?.stop() })

      const anchorsFile = this.config.trustAnchors !== '' ? this.config.trustAnchors : this.init.trustAnchorsFile
      const anchors = anchorsFile != null
        ? await loadTrustAnchors(anchorsFile, this.config.federation)
        : { federation: this.config.federation, anchors: [] }
      const trust = new TrustPolicy(anchors, new RevocationStore(), (reason) => { this.registry?.metrics.credentialsRejected.inc({ reason }) })
      const credentials: string[] = []
      for (const file of this.config.credentials) {
        credentials.push((await readFile(file, 'utf8')).trim())
      }
      this.logger.info({ anchors: anchors.anchors.length, credentials: credentials.length }, 'federation trust loaded')

      this.registry = createRegistry({
        libp2p: this.libp2p,
        helia: this.helia,
        identity,
        logger: forComponent(this.init.logger, 'dcis:registry'),
        metrics: this.metrics
      }, {
        region: this.config.region,
        zone: this.config.zone,
        overrides: this.config.resources,
        software: { name: 'dcis-mesh', version: VERSION },
        republishIntervalMs: this.config.gossip.endRepublishIntervalMs,
        credentials,
        trust,
        latencySummary: () => this.latency?.latencySummary() ?? null,
        unreserved: () => this.alloc?.free() ?? null
      })
      await this.registry.start()
      this.stopHooks.push(async () => { await this.registry.stop() })

      const own = this.registry.self()?.end
      this.alloc = createAllocationService({
        libp2p: this.libp2p,
        datastore: this.stores.datastore,
        registry: this.registry,
        oracle: this.latency.oracle(),
        logger: forComponent(this.init.logger, 'dcis:scheduler'),
        metrics: this.metrics
      }, { capacity: { cpu: own?.cpu.cores ?? 1, memoryMb: own?.memory.totalMb ?? 1024 }, minTrust: this.config.scheduler.minReserveTrust })
      await this.alloc.start()
      this.stopHooks.push(async () => { await this.alloc?.stop() })
      // service replicas reserve their capacity through /dcis/alloc/1.0.0
      const reservations = new ServiceReservations(this.alloc)

      // strong services: latency-aware Raft groups over /dcis/raft/1.0.0
      const raft = createRaftBackend({
        libp2p: this.libp2p,
        registry: this.registry,
        datastore: this.stores.datastore,
        dataDir: this.config.dataDir,
        logger: forComponent(this.init.logger, 'dcis:raft'),
        metrics: this.metrics,
        latency: this.latency.oracle(),
        region: this.config.region,
        zone: this.config.zone,
        repairGraceMs: this.config.services.repairGraceMs,
        reservations
      })
      await raft.start()
      this.services.addBackend(raft)
      this.stopHooks.push(async () => {
        this.services.removeBackend('strong')
        await raft.stop()
      })

      // eventual services: delta-CRDTs and automerge documents
      this.crdt = await createCrdtBackend({
        libp2p: this.libp2p,
        registry: this.registry,
        datastore: this.stores.datastore,
        logger: forComponent(this.init.logger, 'dcis:crdt'),
        metrics: this.metrics,
        rtt: (p) => this.latency?.rttMs(p) ?? undefined,
        reservations
      }, { repairGraceMs: this.config.services.repairGraceMs })
      this.services.addBackend(this.crdt)
      this.stopHooks.push(async () => {
        this.services.removeBackend('eventual')
        await this.crdt?.stop()
      })

      // the federation catalogue (delta-CRDT, on every peer, <dataDir>/catalogue)
      this.catalogue = createCatalogue({
        libp2p: this.libp2p,
        registry: this.registry,
        logger: forComponent(this.init.logger, 'dcis:catalogue'),
        metrics: this.metrics
      }, { dir: join(this.config.dataDir, 'catalogue'), checkSpec: manifestSpecCheck })
      await this.catalogue.start()
      this.stopHooks.push(async () => { await this.catalogue?.stop() })

      // Wasm functions: store in helia, invoke routing, health checks with rollback
      this.functions = createFunctionService({
        libp2p: this.libp2p,
        helia: this.helia,
        datastore: this.stores.datastore,
        catalogue: this.catalogue,
        registry: this.registry,
        rttMs: (p) => this.latency?.rttMs(p) ?? null,
        manifests: this.manifests,
        logger: this.init.logger,
        metrics: this.metrics
      })
      await this.functions.start()
      this.stopHooks.push(async () => { await this.functions?.stop() })

      const keeper = new FederationKeeper(this.libp2p, forComponent(this.init.logger, 'dcis:keeper'), { bootstrap: this.init.bootstrapPeers })
      keeper.start()
      this.stopHooks.push(() => { keeper.stop() })


      if (this.init.api !== false) {
        this.api = createApiServer({ node: this, metrics: this.metrics, logger: this.init.logger }, {
          host: this.config.api.host,
          port: this.config.api.port,
          auth: new ApiAuth({ nodeDid: identity.did, policy: this.config.api.policy, trustLoopback: this.config.api.trustLoopback }),
          routes: [
            ...capabilityRoutes({
              libp2p: () => this.libp2p,
              helia: () => this.helia,
              inbox: () => this.inbox as PubsubInbox,
              registry: () => this.registry,
              manifests: () => this.manifests,
              services: () => this.services,
              latency: () => this.latency as LatencyService,
              alloc: () => this.alloc as AllocationService,
              crdt: () => this.crdt as CrdtBackend,
              functions: () => this.functions as FunctionService,
              catalogue: () => this.catalogue as Catalogue
            }),
            ...(this.init.routes ?? [])
          ]
        })
        await this.api.start()
        this.stopHooks.push(async () => { await this.api?.stop() })
      }

      this.status = 'started'
      this.logger.info({
        peerId: identity.peerId.toString(),
        region: this.config.region,
        zone: this.config.zone,
        multiaddrs: this.libp2p.getMultiaddrs().map(String),
        api: this.api?.url
      }, 'peer started')
    } catch (err) {
      this.logger.error({ err }, 'start failed, stopping what had started')
      await this.runStopHooks()
      this.status = 'stopped'
      throw err
    }
  }

  async stop (): Promise<void> {
    if (this.status === 'stopped' || this.status === 'stopping') return
    this.status = 'stopping'
    await this.runStopHooks()
    this.status = 'stopped'
    this.logger.info('peer stopped')
  }

  private async runStopHooks (): Promise<void> {
    while (this.stopHooks.length > 0) {
      const hook = this.stopHooks.pop()
      try {
        await hook?.()
      } catch (err) {
        this.logger.warn({ err }, 'error while stopping a component')
      }
    }
  }

  private markBootstrapped (peerId: string): void {
    if (this.bootstrapped) return
    // a connection to any federation peer counts, not only to a listed
    // bootstrap peer: those may be down while peers we learnt of through them
    // earlier (the peer store is persistent) are up
    this.bootstrapped = true
    this.logger.info({ via: peerId }, 'bootstrapped')
  }

  /** ApiNode: bootstrapped and serving */
  isReady (): boolean {
    return this.status === 'started' && this.bootstrapped
  }

  /** ApiNode: who this peer is */
  info (): NodeInfoView {
    const self = this.registry?.self()
    return {
      peerId: this.identity.peerId.toString(),
      did: this.identity.did,
      multiaddrs: this.libp2p.getMultiaddrs().map(ma => ma.toString()),
      region: this.config.region,
      zone: this.config.zone,
      end: (self?.end ?? null) as Record<string, unknown> | null,
      endJwt: self?.jwt ?? null
    }
  }

  /** ApiNode: connected peers with their measured RTT */
  async peers (): Promise<PeerView[]> {
    const out: PeerView[] = []
    for (const peerId of this.libp2p.getPeers()) {
      const addrs = new Set<string>()
      for (const conn of this.libp2p.getConnections(peerId)) addrs.add(conn.remoteAddr.toString())
      try {
        const peer = await this.libp2p.peerStore.get(peerId)
        for (const a of peer.addresses) addrs.add(a.multiaddr.toString())
      } catch {
        // not in the peer store: the connection address is enough
      }
      out.push({
        peerId: peerId.toString(),
        multiaddrs: [...addrs],
        rttMs: this.latency?.rttMs(peerId.toString()) ?? null,
        region: this.registry?.cache.get(peerId.toString())?.end.region ?? null
      })
    }
    out.sort((a, b) => a.peerId.localeCompare(b.peerId))
    return out
  }
}
