import { autoNAT } from '@libp2p/autonat'
import { bootstrap } from '@libp2p/bootstrap'
import { RELAY_V2_STOP_CODEC, circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { dcutr } from '@libp2p/dcutr'
import { gossipsub } from '@libp2p/gossipsub'
import { identify, identifyPush } from '@libp2p/identify'
import { kadDHT, passthroughMapper, removePrivateAddressesMapper } from '@libp2p/kad-dht'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { emulatedTcp } from '../latency/emulator/index.js'
import { fastGossipMessageId, gossipMessageId } from '../registry/gossip-id.js'
import { directFirstAddressSorter, reuseLimitedConnections } from './nat.js'
import { RelayBudget } from './relay-budget.js'
import type { DcisConfig } from '../config/index.js'
import type { LinkFaults } from '../latency/emulator/index.js'
import type { Logger } from '../telemetry/index.js'
import type { GossipSub } from '@libp2p/gossipsub'
import type { Identify, IdentifyPush } from '@libp2p/identify'
import type { KadDHT } from '@libp2p/kad-dht'
import type { Ping } from '@libp2p/ping'
import type { Ed25519PrivateKey, Libp2p } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Datastore } from 'interface-datastore'
import type { Registry } from 'prom-client'

/** The protocol ids every dcis peer speaks (DESIGN.md, "Names"). */
export const DHT_PROTOCOL = '/dcis/kad/1.0.0'

export interface MeshServices {
  identify: Identify
  identifyPush: IdentifyPush
  ping: Ping
  dht: KadDHT
  pubsub: GossipSub
  [key: string]: unknown
}

export type MeshLibp2p = Libp2p<MeshServices>

export interface MeshLibp2pInit {
  config: DcisConfig
  privateKey: Ed25519PrivateKey
  datastore: Datastore
  metrics: Registry
  bootstrapPeers: Multiaddr[]
  /** for the link emulator's warnings */
  logger?: Logger
  /** link faults the emulator follows (config simulation.faultsFile) */
  linkFaults?: LinkFaults
  /** software name/version for identify's agent string */
  agentVersion: string
  /** DHT record validators and selectors by key namespace (e.g. dcis-end) */
  dhtValidators?: Record<string, (key: Uint8Array, value: Uint8Array) => Promise<void>>
  dhtSelectors?: Record<string, (key: Uint8Array, records: Uint8Array[]) => number>
  /** filled with the relay server's byte budget when this peer relays */
  relayBudget?: { current?: RelayBudget }
}

/** The listen address that asks the circuit relay transport for one reservation. */
export const CIRCUIT_LISTEN = '/p2p-circuit'

/**
 * Options every dcis protocol handler and dial passes: our protocols also
 * run over limited (relayed) connections, so a peer behind NAT can be
 * reached through a relay. The relay's per-circuit caps still hold: when
 * one is reached the relay resets the circuit and the next dial opens a
 * new one (long-lived replication prefers a direct connection once DCUtR
 * or a direct dial has one).
 */
export const ON_LIMITED = { runOnLimitedConnection: true } as const

/**
 * The node's single libp2p instance: TCP (or the user-space link emulator
 * when `simulation.rtt`, `.site` or `.faultsFile` is configured), Noise, yamux, identify, ping, our own
 * kad-dht (`/dcis/kad/1.0.0`, server mode) and gossipsub with strict
 * signing. NAT traversal (docs/nat.md): the circuit relay v2 transport
 * (always: any peer can dial a relayed address), reservations on relays
 * when `nat.reachability` is `private`, an opt-in relay server with caps,
 * AutoNAT, DCUtR hole punching and opt-in UPnP. No mDNS, AutoTLS or public
 * bootstrap: a peer only talks to the federation it was given.
 */
export async function createMeshLibp2p (init: MeshLibp2pInit): Promise<MeshLibp2p> {
  const { config } = init
  const { rtt, site } = config.simulation
  const transport = rtt != null || site != null || init.linkFaults != null
    ? emulatedTcp({ region: config.region, matrix: rtt, site, faults: init.linkFaults, logger: init.logger })
    : tcp()
  const nat = config.nat
  const natted = nat.reachability === 'private'
  // one `/p2p-circuit` listen address per relay to hold a reservation on;
  // the transport finds relays among connected peers that speak the hop
  // protocol (bootstrap peers, registry peers the keeper dials) and
  // re-reserves elsewhere when a relay goes away
  const listen = [...config.listen, ...(natted ? Array.from({ length: nat.reservations }, () => CIRCUIT_LISTEN) : [])]
  const maxCircuits = nat.relayMaxCircuits
  const budget = nat.relayServer
    ? new RelayBudget({ bytesPerHour: nat.relayBytesPerHour, circuitBytes: nat.relayCircuitBytes, maxOpen: maxCircuits })
    : undefined
  if (init.relayBudget != null) init.relayBudget.current = budget
  const natServices: Record<string, unknown> = {}
  // AutoNAT only where the operator left reachability to it (`auto`): a
  // declared public or private peer has nothing to find out
  if (nat.autonat && nat.reachability === 'auto') natServices.autonat = autoNAT({ startupDelay: 5_000 })
  if (nat.holePunching) natServices.dcutr = dcutr()
  // loaded only when on (off by default): UPnP's SSDP, XML and port-mapper stack is ~45 modules (issue 13)
  if (nat.upnp) natServices.upnp = (await import('@libp2p/upnp-nat')).uPnPNAT()
  if (nat.relayServer) {
    natServices.relay = circuitRelayServer({
      maxInboundHopStreams: maxCircuits,
      maxOutboundStopStreams: maxCircuits,
      reservations: {
        maxReservations: nat.relayMaxReservations,
        applyDefaultLimit: true,
        defaultDurationLimit: nat.relayCircuitDurationMs,
        defaultDataLimit: BigInt(nat.relayCircuitBytes)
      }
    })
  }

  const node = await createLibp2p({
    privateKey: init.privateKey,
    datastore: init.datastore,
    start: false,
    addresses: {
      listen,
      announce: config.announce
    },
    nodeInfo: {
      userAgent: init.agentVersion
    },
    transports: [transport, circuitRelayTransport({ reservationCompletionTimeout: 10_000, maxInboundStopStreams: maxCircuits, maxOutboundStopStreams: maxCircuits })],
    // direct addresses before relayed ones (a relay through a public peer
    // counts as public for libp2p's default order: same-LAN peers behind
    // one NAT then talked through the relay)
    connectionManager: { addressSorter: directFirstAddressSorter },
    connectionGater: budget != null ? { denyOutboundRelayedConnection: () => !budget.admit() } : {},
    // libp2p's connection monitor opens an /ipfs/ping stream per connection
    // every round (a multistream exchange and a peer-store write on both
    // sides each time); LinkMonitor (link-monitor.ts, started by MeshNode)
    // does the same job with the muxer's PING frame
    connectionMonitor: { enabled: false },
    connectionEncrypters: [noise()],
    // LinkMonitor pings every connection: yamux's own keep-alive would only add frames
    streamMuxers: [yamux({ enableKeepAlive: false })],
    peerDiscovery: init.bootstrapPeers.length > 0
      ? [bootstrap({ list: init.bootstrapPeers.map(ma => ma.toString()), timeout: 0 })]
      : [],
    metrics: prometheusMetrics({
      registry: init.metrics,
      collectDefaultMetrics: false,
      preserveExistingMetrics: false
    }),
    services: {
      // libp2p's 5 s: a peer starting on a loaded small box answered later,
      // and a failed identify is never retried by libp2p (no gossipsub, no
      // kad-dht over that connection; the keeper retries after 45 s)
      identify: identify({ timeout: 30_000 }),
      // protocols registered after start (helia's bitswap, our services)
      // reach peers that identified us earlier only through a push: without
      // it their registrar never tells bitswap's topology about us, their
      // wants never come here and a module fetch waits until it times out
      identifyPush: identifyPush(),
      // ping allows one outbound stream per connection by default: the
      // latency service's probe and the connection monitor's heartbeat then
      // collide, the monitor's ping fails with TooManyOutboundProtocolStreams
      // and it aborts a healthy connection (every ~10 s on an idle mesh: a
      // redial, identify, registry sync, gossip re-graft each time)
      ping: ping({ maxOutboundStreams: 4, maxInboundStreams: 8, runOnLimitedConnection: true }),
      dht: kadDHT({
        protocol: DHT_PROTOCOL,
        // a peer behind NAT cannot answer DHT queries from others
        clientMode: config.dht.clientMode || natted,
        // loopback and LAN federations need private addresses in the DHT
        peerInfoMapper: config.dht.passthroughMapper ? passthroughMapper : removePrivateAddressesMapper,
        validators: init.dhtValidators ?? {},
        selectors: init.dhtSelectors ?? {}
      }),
      pubsub: gossipsub({
        globalSignaturePolicy: 'StrictSign',
        // descriptors are identified by content, so relays of one END dedupe
        msgIdFn: gossipMessageId,
        // a copy already seen is dropped before its signature is verified
        fastMsgIdFn: fastGossipMessageId,
        // ...and re-publishing one already seen is a no-op, not an error
        ignoreDuplicatePublishError: true,
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        // the registry and latency gossip reach a peer behind NAT through its relay too
        runOnLimitedConnection: true,
        // a smaller mesh than gossipsub's 6 (4..12): every message reaches a
        // peer once per mesh neighbour that has it, and in an idle federation
        // these copies were most of the bytes and of the CPU that scaled with
        // N. Four still reaches 50 peers in ~3 hops; an END is flood-published
        // by its owner to every connected peer first (registry)
        D: 4,
        Dlo: 3,
        Dhi: 8,
        Dout: 2,
        Dscore: 2,
        Dlazy: 4,
        // no IP colocation penalty. gossipsub's default scores every neighbour
        // -5 x (peers sharing its IP - 10)^2: with more than 10 neighbours on
        // one address (`dcis up` on loopback, containers on one host, a site
        // behind one NAT address, peers reached through one relay) all of them
        // fall below 0 (pruned from the mesh) and soon below the graylist
        // threshold (-80: their messages are dropped). At 20 peers on
        // loopback every mesh was empty and a descriptor change reached 2 of
        // 19 peers (docs/scale.md). Who may join is the federation's trust
        // policy, not the address it connects from.
        scoreParams: { IPColocationFactorWeight: 0 }
      }),
      ...natServices
    }
  }) as unknown as MeshLibp2p
  // a peer reached only through a relay: new streams go over the open
  // relayed connection instead of a new circuit per dial (docs/nat.md)
  reuseLimitedConnections(node)
  // open circuits = this relay's outbound stop streams, over all connections
  budget?.setOpenCounter(() => {
    let n = 0
    for (const c of node.getConnections()) for (const st of c.streams) if (st.protocol === RELAY_V2_STOP_CODEC && st.direction === 'outbound') n++
    return n
  })
  return node
}
