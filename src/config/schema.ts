/**
 * The config's types and shared constants. Its schemas are written with
 * TypeBox in schema-source.ts: the fully merged config, and the layer one
 * source (a YAML file) may supply (every field optional, unknown keys
 * rejected). A peer loads only the Ajv validators compiled from them ahead
 * of time (validators.generated.ts, `npm run gen:schemas`), so neither
 * TypeBox's ~200 modules nor a compile are part of its start-up.
 * test/config/schema-generated.spec.ts fails when the two differ.
 */

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type ConfigLogLevel = typeof LOG_LEVELS[number]

/** Names used in file names and gossip: lowercase letters, digits, '-' (1–63). */
export const NAME_PATTERN = '^[a-z0-9-]{1,63}$'
export const NAME_TEXT = "must be 1-63 characters of a-z, 0-9 and '-'"

/** An RTT matrix; null = unknown (the emulator adds no delay for such a pair). */
export interface RttMatrix {
  /** names of the rows/columns (regions, or nodes of a measured data set) */
  regions: string[]
  /** rttMs[i][j]: RTT in ms from regions[i] to regions[j] or null; diagonal = same-region RTT; symmetry not required */
  rttMs: Array<Array<number | null>>
}

/** The same shape, read without the emulation cap (for offline evaluation of measured data). */
export type MeasuredRttMatrix = RttMatrix

export interface DcisConfig {
  /** where the key, datastores and blocks live; absolute after loadConfig */
  dataDir: string
  region: string
  zone: string
  /** libp2p listen multiaddrs */
  listen: string[]
  /** multiaddrs announced instead of the listen addresses (e.g. behind NAT) */
  announce: string[]
  api: { host: string, port: number, trustLoopback: boolean, /** false: health, metrics, OpenAPI, node and registry reads need a token */ openInfo: boolean, /** HTTPS: cert+key files, or self-signed with the peer key; clientCa = mutual TLS */ tls?: { enabled: boolean, cert?: string, key?: string, clientCa?: string }, policy: Array<{ did: string, roles: Array<'read' | 'deploy' | 'allocate' | 'services' | 'admin'> }> }
  /** files holding federation credentials (VC-JWTs) to attach to this peer's END */
  credentials: string[]
  /** trust anchors file; '' = bootstrap/<federation>/trust-anchors.json */
  trustAnchors: string
  /** bootstrap file paths or multiaddrs with /p2p/<peerId>; see resolveBootstrap */
  bootstrap: string[]
  federation: string
  logLevel: ConfigLogLevel
  dht: { clientMode: boolean, passthroughMapper: boolean }
  gossip: { endRepublishIntervalMs: number }
  /** latency probes and coordinate gossip */
  latency: { probeIntervalMs: number, gossipIntervalMs: number }
  /**
   * link emulation: on when any of these is set. `rtt` adds WAN delay between
   * regions; `site` names this peer for link faults (default: the region);
   * `faultsFile` is a JSON file of fault rules the peer follows while it runs
   * (src/latency/emulator/faults.ts). Every peer of such a mesh must emulate.
   */
  simulation: { rtt?: RttMatrix, site?: string, faultsFile?: string }
  /** overrides of detected resources; all optional */
  resources: { cpu?: number, memoryMb?: number, arch?: string, accelerators?: string[], tee?: boolean }
  /** stateful services: a replica whose peer is unreachable longer than repairGraceMs is replaced */
  services: { repairGraceMs: number }
  /** allocations: the least trust level a federation member needs to reserve on this peer */
  scheduler: { minReserveTrust: number }
  /** traces, log sampling and export (docs/observability.md); OTEL_* variables override */
  telemetry: TelemetryConfig
  /** encryption at rest (docs/security.md) */
  storage: { encryption: { enabled: boolean, provider: 'identity' | 'passphrase' | 'transit', transit?: { url: string, key: string, mount?: string } } }
  /** NAT traversal (docs/nat.md) */
  nat: NatConfig
}

export interface TelemetryConfig {
  /** export traces over OTLP (also turned on by OTEL_TRACES_EXPORTER=otlp or an OTEL_EXPORTER_OTLP_*ENDPOINT) */
  tracing: boolean
  /** OTLP collector base URL (http/protobuf: <url>/v1/traces is posted to) */
  otlpEndpoint?: string
  otlpProtocol?: 'http/protobuf' | 'grpc'
  serviceName?: string
  /** head sampling ratio of new traces (parent-based: a sampled caller's trace is kept) */
  sampleRatio?: number
  /** the administrative domain of this peer's traces; default: the federation name */
  traceDomain?: string
  /** salt of the hashes that replace the other side's identifiers across a domain boundary */
  traceSalt?: string
  /** also hash function names across a domain boundary */
  hashFunctionNames?: boolean
  /** share of the lines kept per level (1 = all); fatal is always kept */
  logSampling: Partial<Record<'error' | 'warn' | 'info' | 'debug' | 'trace', number>>
  /** batched, gzipped log files: <file>.<n>.gz every intervalMs, the buffer bounded by maxBufferBytes */
  logExport?: { file: string, intervalMs?: number, maxBufferBytes?: number, maxFileBytes?: number, keepFiles?: number }
}

/**
 * NAT traversal (docs/nat.md). `reachability`: `private` = this peer is
 * behind NAT: it reserves slots on `reservations` circuit relays and runs
 * the DHT in client mode; `public` = directly dialable; `auto` = AutoNAT
 * (when `autonat`) decides what the END says, no reservations. A relay server (opt-in)
 * caps every circuit at `relayCircuitDurationMs` and `relayCircuitBytes`
 * (both directions together) and admits new circuits only while the sum of
 * the byte caps of the circuits opened in the last hour stays within
 * `relayBytesPerHour` (0 = no hourly cap): a hard upper bound on what it
 * relays.
 */
export interface NatConfig {
  reachability: 'auto' | 'public' | 'private'
  reservations: number
  autonat: boolean
  holePunching: boolean
  upnp: boolean
  relayServer: boolean
  relayMaxReservations: number
  relayMaxCircuits: number
  relayCircuitDurationMs: number
  relayCircuitBytes: number
  relayBytesPerHour: number
}
