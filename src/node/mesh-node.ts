import { createApiServer } from '../api/index.js'
import { allocForwardAuthorizer, ApiAuth, invokeForwardAuthorizer, serviceForwardAuthorizer } from '../api/auth.js'
import { readFile } from 'node:fs/promises'
import { loadTrustAnchors, RevocationStore, TrustPolicy } from '../identity/federation/index.js'
import { createRegistry, endSelector, endValidator, END_NAMESPACE } from '../registry/index.js'
import { StatefulServices } from '../services/index.js'
import { ManifestDispatcher } from '../services/manifests/index.js'
import { loadOrCreateIdentity } from '../identity/index.js'
import { openStores, createHeliaOn } from '../storage/index.js'
import { keyRoutes, migrateLegacyClear, openProtection, recheckLegacyClear, SealedDatastore, selfSignedCertificate, walCipherFor } from '../protection/index.js'
import type { ApiTls } from '../api/index.js'
import type { Protection } from '../protection/index.js'
import { Gauge } from 'prom-client'
import { createMetricsRegistry, forComponent, telemetryContract, TrafficMeter } from '../telemetry/index.js'
import { startTracing } from '../telemetry/tracing/index.js'
import { createMeshLibp2p } from './libp2p.js'
import { FederationKeeper } from './keeper.js'
import { NatMonitor } from './nat.js'
import type { RelayBudget } from './relay-budget.js'
import { LinkMonitor } from './link-monitor.js'
import { memoizeProtocolMerges } from './peer-store-memo.js'
import { createLatencyService } from '../latency/service/index.js'
import { LinkFaults, LinkFaultsFile } from '../latency/emulator/index.js'
import { createAllocationService, ServiceReservations } from '../scheduler/index.js'
import { createRaftBackend } from '../raft/service/index.js'
import { createCrdtBackend } from '../crdt/service/index.js'
import { createFunctionService } from '../wasm/functions/index.js'
import { createHostServices } from '../wasm/host-services.js'
import { SinkService, sinkManifestHandler } from '../sinks/index.js'
import { CacheService, edgeCacheManifestHandler } from '../caches/index.js'
import { parseCursor } from '../crdt/replication/index.js'
import type { HostInterface } from '../wasm/index.js'
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
  /** the keyring and sealer of encryption at rest (absent when it is off) */
  protection?: Protection
  latency?: LatencyService
  alloc?: AllocationService
  crdt?: CrdtBackend
  functions?: FunctionService
  /** what functions reach through the host interface (src/wasm/host-services.ts) */
  readonly hostServices: HostInterface = createHostServices({
    services: () => this.services,
    logs: () => this.crdt,
    sinks: () => this.sinks,
    caches: () => this.caches
  })
  /** core sinks (src/sinks) and edge caches (src/caches), defined by Sink / EdgeCache manifests in the catalogue */
  sinks?: SinkService
  caches?: CacheService
  /** the federation catalogue: functions, versions, rollbacks, applied manifests */
  catalogue?: Catalogue
  private inbox?: PubsubInbox
  /** NAT traversal state (docs/nat.md) */
  nat?: NatMonitor
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
    // the rules in force, by digest (linkFaultsDigest): tests and the lab wait on it instead of sleeping
    new Gauge({
      name: 'dcis_link_faults_rules',
      help: 'Link fault rules in force on this peer, labelled with their digest',
      labelNames: ['digest'] as const,
      registers: [this.metrics],
      collect () {
        this.reset()
        this.set({ digest: faults.digest }, faults.size)
      }
    })
    this.stopHooks.push(() => { this.metrics.removeSingleMetric('dcis_link_faults_rules') })
    return faults
  }

  /**
   * An upgraded data dir (written in clear before its keyring): re-seal the
   * datastore and catalogue now (before any service store opens: no write
   * races it), then drop the legacy flag once the listed Raft files are
   * compacted away (checked every minute). docs/security.md.
   */
  private async migrateLegacyClear (protection: Protection): Promise<void> {
    const stores = this.stores
    if (stores == null) return
    const r = await migrateLegacyClear(this.config.dataDir, protection.keyring, protection.sealer, stores.datastore)
    this.logger.info(r, r.done ? 'upgraded data dir re-sealed: clear records are refused from now on' : 'upgraded data dir re-sealed except legacy Raft files (accepted in clear until compacted away)')
    if (r.done) return
    const timer = setInterval(() => {
      recheckLegacyClear(this.config.dataDir, protection.keyring).then(c => {
        if (c.done) {
          clearInterval(timer)
          this.logger.info('legacy Raft files compacted away: clear records are refused from now on')
        }
      }).catch((err: Error) => { this.logger.warn({ err: err.message }, 'legacy clear recheck failed') })
    }, 60_000)
    timer.unref()
    this.stopHooks.push(async () => { clearInterval(timer) })
  }

  async start (): Promise<void> {
    if (this.status === 'started' || this.status === 'starting') return
    this.status = 'starting'
    try {
      const { created, ...identity } = await loadOrCreateIdentity(this.config.dataDir)
      this.identity = identity
      this.logger.info({ peerId: identity.peerId.toString(), did: identity.did, created }, 'identity loaded')

      // traces: off unless the config or OTEL_* turn them on (then the SDK is loaded, not before)
      const tracing = await startTracing(this.config.telemetry, this.config.federation, { peerId: identity.peerId.toString(), region: this.config.region, zone: this.config.zone, version: VERSION }, process.env, telemetryContract(this.metrics))
      if (tracing != null) {
        this.stopHooks.push(async () => { await tracing.stop() })
        this.logger.info({ url: tracing.settings.url, protocol: tracing.settings.protocol, sampleRatio: tracing.settings.sampler.ratio, domain: tracing.settings.domain }, 'tracing on')
      }

      // encryption at rest: the keyring opens (or is created) first; a wrong key stops the start here
      if (this.config.storage.encryption.enabled) {
        this.protection = await openProtection(this.config.dataDir, this.config.storage.encryption, identity.privateKey.raw)
        const st = this.protection.keyring.status()
        this.logger.info({ provider: st.provider, activeKey: st.active, keys: st.keys.length }, 'keyring opened: service data is sealed at rest (AES-256-GCM)')
      } else {
        this.logger.warn('storage.encryption.enabled is false: service data is stored in clear')
      }
      this.stores = await openStores(this.config.dataDir)
      this.stopHooks.push(async () => { await this.stores?.close() })
      // what the peer stores for services and users is sealed; libp2p's own records (peer store, DHT) and content-addressed blocks stay clear
      const dataStore = this.protection != null ? new SealedDatastore(this.stores.datastore, this.protection.sealer) : this.stores.datastore
      if (this.protection?.keyring.legacyClear !== undefined) await this.migrateLegacyClear(this.protection)

      const linkFaults = await this.startLinkFaults()
      const relayBudget: { current?: RelayBudget } = {}
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
        dhtSelectors: { [END_NAMESPACE]: endSelector() },
        relayBudget
      })
      this.nat = new NatMonitor(this.libp2p, { config: this.config.nat, announced: this.config.announce.length > 0, relayBudget, logger: forComponent(this.init.logger, 'dcis:nat') })
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
        unreserved: () => this.alloc?.free() ?? null,
        reachability: () => this.nat?.reachability() ?? null
      })
      await this.registry.start()
      this.stopHooks.push(async () => { await this.registry.stop() })
      this.nat.start(this.registry)
      this.stopHooks.push(() => { this.nat?.stop() })

      const own = this.registry.self()?.end
      // forwarded allocation calls are re-authorised with the API's policy (bound below, once it exists; refused until then)
      const allocAuth: { check?: (r: { token?: string, remotePeer: string, op: string, id: string }) => Promise<boolean> } = {}
      this.alloc = createAllocationService({
        libp2p: this.libp2p,
        datastore: dataStore,
        registry: this.registry,
        oracle: this.latency.oracle(),
        logger: forComponent(this.init.logger, 'dcis:scheduler'),
        metrics: this.metrics
      }, { capacity: { cpu: own?.cpu.cores ?? 1, memoryMb: own?.memory.totalMb ?? 1024 }, minTrust: this.config.scheduler.minReserveTrust, authorizeCall: async (r) => allocAuth.check !== undefined && await allocAuth.check(r) })
      await this.alloc.start()
      this.stopHooks.push(async () => { await this.alloc?.stop() })
      // service replicas reserve their capacity through /dcis/alloc/1.0.0
      const reservations = new ServiceReservations(this.alloc)

      // the API's authorisation, also used to re-authorise calls other peers forward here
      const apiAuth = new ApiAuth({
        nodeDid: identity.did,
        policy: this.config.api.policy,
        trustLoopback: this.config.api.trustLoopback,
        openInfo: this.config.api.openInfo,
        isPublicService: async (name) => await this.services.isPublic(name, { signal: AbortSignal.timeout(5000) })
      })
      const authLog = forComponent(this.init.logger, 'dcis:auth')
      const authorizeForwarded = serviceForwardAuthorizer(apiAuth, (info) => { authLog.info(info, 'forwarded call refused') })
      allocAuth.check = allocForwardAuthorizer(apiAuth, (info) => { authLog.info(info, 'forwarded allocation call refused') })

      // strong services: latency-aware Raft groups over /dcis/raft/1.0.0
      const raft = createRaftBackend({
        ...(this.protection != null ? { walCipherFor: (group: string) => walCipherFor((this.protection as Protection).sealer, group) } : {}),
        authorizeForwarded: async (r) => await authorizeForwarded({ access: r.op === 'get' ? 'read' : 'write', service: r.name, remotePeer: r.remotePeer, ...(r.token !== undefined ? { token: r.token } : {}) }),
        libp2p: this.libp2p,
        registry: this.registry,
        datastore: dataStore,
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
        datastore: dataStore,
        logger: forComponent(this.init.logger, 'dcis:crdt'),
        metrics: this.metrics,
        rtt: (p) => this.latency?.rttMs(p) ?? undefined,
        reservations,
        authorizeForwarded
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
      }, { dir: join(this.config.dataDir, 'catalogue'), checkSpec: manifestSpecCheck, ...(this.protection != null ? { sealer: this.protection.sealer } : {}) })
      await this.catalogue.start()
      this.stopHooks.push(async () => { await this.catalogue?.stop() })

      // Wasm functions: store in helia, invoke routing, health checks with rollback
      this.functions = createFunctionService({
        authorizeCall: invokeForwardAuthorizer(apiAuth, (info) => { authLog.info(info, 'forwarded invocation refused') }),
        libp2p: this.libp2p,
        helia: this.helia,
        datastore: dataStore,
        catalogue: this.catalogue,
        registry: this.registry,
        rttMs: (p) => this.latency?.rttMs(p) ?? null,
        manifests: this.manifests,
        logger: this.init.logger,
        metrics: this.metrics,
        // the functions' host interface: services (kv, counters), logs; grants are checked by the runtime
        host: () => this.hostServices
      })
      await this.functions.start()
      this.stopHooks.push(async () => { await this.functions?.stop() })

      // core sinks and edge caches: their manifests live in the federation catalogue
      const catalogue = this.catalogue
      this.sinks = new SinkService({
        self: this.libp2p.peerId.toString(),
        dir: join(this.config.dataDir, 'sinks'),
        manifests: () => catalogue.manifests('Sink').map(m => ({ name: m.name, spec: m.spec, appliedAt: m.appliedAt })),
        onManifestsChange: (listener) => catalogue.onChange(listener),
        backend: () => this.crdt,
        parseCursor,
        logger: forComponent(this.init.logger, 'dcis:sinks'),
        metrics: this.metrics
      })
      await this.sinks.start()
      this.stopHooks.push(async () => { await this.sinks?.stop() })
      this.manifests.register('Sink', sinkManifestHandler(() => catalogue, () => this.crdt))
      this.caches = new CacheService({
        region: this.config.region,
        manifests: () => catalogue.manifests('EdgeCache').map(m => ({ name: m.name, spec: m.spec })),
        logger: forComponent(this.init.logger, 'dcis:caches'),
        metrics: this.metrics
      })
      this.manifests.register('EdgeCache', edgeCacheManifestHandler(() => catalogue))
      this.stopHooks.push(() => { this.manifests.unregister('Sink'); this.manifests.unregister('EdgeCache') })

      const keeper = new FederationKeeper(this.libp2p, forComponent(this.init.logger, 'dcis:keeper'), { bootstrap: this.init.bootstrapPeers })
      keeper.start()
      this.stopHooks.push(() => { keeper.stop() })


      if (this.init.api !== false) {
        const https = await apiTls(this.config, identity)
        this.api = createApiServer({ node: this, metrics: this.metrics, logger: this.init.logger }, {
          ...(https !== undefined ? { https } : {}),
          host: this.config.api.host,
          port: this.config.api.port,
          auth: apiAuth,
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
              catalogue: () => this.catalogue as Catalogue,
              sinks: () => this.sinks as SinkService,
              caches: () => this.caches as CacheService,
              provenance: () => this.identity,
              nat: () => this.nat as NatMonitor
            }),
            keyRoutes(() => this.protection?.keyring),
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

/**
 * The API's TLS from `api.tls`: the operator's certificate and key files, or
 * (none given) a self-signed certificate whose key is the peer's own
 * identity key; `clientCa` turns on mutual TLS. Undefined = plain HTTP.
 */
async function apiTls (config: DcisConfig, identity: NodeIdentity): Promise<ApiTls | undefined> {
  const tls = config.api.tls
  if (tls === undefined || !tls.enabled) return undefined
  const ca = tls.clientCa !== undefined ? { ca: await readFile(tls.clientCa) } : {}
  if (tls.cert !== undefined || tls.key !== undefined) {
    if (tls.cert === undefined || tls.key === undefined) throw new Error('api.tls: give both cert and key, or neither (self-signed with the peer key)')
    return { cert: await readFile(tls.cert), key: await readFile(tls.key), ...ca }
  }
  const self = selfSignedCertificate({ ed25519Raw: identity.privateKey.raw, did: identity.did, hosts: [config.api.host] })
  return { cert: self.cert, key: self.key, ...ca }
}
