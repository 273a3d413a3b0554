/**
 * The config schema (TypeBox, checked with Ajv). `DcisConfigSchema` is the
 * fully merged config; `configLayerSchema()` is what one source (a YAML file)
 * may supply: every field optional, unknown keys rejected.
 */
import { Type } from '@sinclair/typebox'
import type { TSchema } from '@sinclair/typebox'

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type ConfigLogLevel = typeof LOG_LEVELS[number]

/** Names used in file names and gossip: lowercase letters, digits, '-' (1–63). */
export const NAME_PATTERN = '^[a-z0-9-]{1,63}$'
const NAME_TEXT = "must be 1-63 characters of a-z, 0-9 and '-'"

/** `errorText` replaces Ajv's generic message for that keyword's failure. */
const name = (): TSchema => Type.String({ pattern: NAME_PATTERN, errorText: NAME_TEXT })
const multiaddrList = (): TSchema => Type.Array(Type.String({ minLength: 1, maxLength: 1024 }), { maxItems: 256 })
const logLevel = (): TSchema => Type.Unsafe<ConfigLogLevel>({ type: 'string', enum: [...LOG_LEVELS] })

/** RTT matrix: square, entries ms >= 0 or null (unknown). Checked in code (rtt-matrix.ts). */
export const RttMatrixSchema = Type.Object({
  regions: Type.Array(Type.String({ minLength: 1 })),
  rttMs: Type.Array(Type.Array(Type.Union([Type.Number({ minimum: 0 }), Type.Null()])))
}, { additionalProperties: false })

/** An RTT matrix; null = unknown (the emulator adds no delay for such a pair). */
export interface RttMatrix {
  /** names of the rows/columns (regions, or nodes of a measured data set) */
  regions: string[]
  /** rttMs[i][j]: RTT in ms from regions[i] to regions[j] or null; diagonal = same-region RTT; symmetry not required */
  rttMs: Array<Array<number | null>>
}

/** The same shape, read without the emulation cap (for offline evaluation of measured data). */
export type MeasuredRttMatrix = RttMatrix

const resourceFields = {
  cpu: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 4096 })),
  memoryMb: Type.Optional(Type.Integer({ minimum: 1, maximum: 1 << 30 })),
  arch: Type.Optional(Type.String({ pattern: '^[a-z0-9_]{1,32}$', errorText: 'must be 1-32 characters of a-z, 0-9 and _ (e.g. x86_64, arm64)' })),
  accelerators: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,64}$', errorText: 'must be 1-64 characters of A-Z, a-z, 0-9 and _.:-' }), { maxItems: 64 })),
  tee: Type.Optional(Type.Boolean())
}

/**
 * The schema of one layer, or of the merged config when `full`.
 * In a layer, `simulation.rtt` may also be a file path (string).
 */
function buildSchema (full: boolean): TSchema {
  const opt = <T extends TSchema>(s: T): TSchema => full ? s : Type.Optional(s)
  const obj = (props: Record<string, TSchema>): TSchema => Type.Object(props, { additionalProperties: false })
  return obj({
    dataDir: opt(Type.String({ minLength: 1, maxLength: 4096 })),
    region: opt(name()),
    zone: opt(name()),
    listen: opt(multiaddrList()),
    announce: opt(multiaddrList()),
    api: opt(obj({
      host: opt(Type.String({ minLength: 1, maxLength: 253 })),
      port: opt(Type.Integer({ minimum: 0, maximum: 65535 })),
      trustLoopback: opt(Type.Boolean()),
      openInfo: opt(Type.Boolean()),
      tls: Type.Optional(obj({
        enabled: Type.Boolean(),
        cert: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
        key: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
        clientCa: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 }))
      })),
      policy: opt(Type.Array(obj({
        did: Type.String({ pattern: '^did:key:z[1-9A-HJ-NP-Za-km-z]{40,60}$', errorText: 'must be a did:key (did:key:z6Mk...)' }),
        roles: Type.Array(Type.Union([Type.Literal('read'), Type.Literal('deploy'), Type.Literal('allocate'), Type.Literal('services'), Type.Literal('admin')], { errorText: 'must be one of read, deploy, allocate, services, admin' }), { minItems: 1, maxItems: 5, uniqueItems: true })
      }), { maxItems: 1024 }))
    })),
    credentials: opt(Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), { maxItems: 4 })),
    trustAnchors: opt(Type.String({ maxLength: 4096 })),
    bootstrap: opt(Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), { maxItems: 1024 })),
    federation: opt(name()),
    logLevel: opt(logLevel()),
    dht: opt(obj({
      clientMode: opt(Type.Boolean()),
      passthroughMapper: opt(Type.Boolean())
    })),
    gossip: opt(obj({
      endRepublishIntervalMs: opt(Type.Integer({ minimum: 1000, maximum: 86_400_000 }))
    })),
    latency: opt(obj({
      probeIntervalMs: opt(Type.Integer({ minimum: 100, maximum: 3_600_000 })),
      gossipIntervalMs: opt(Type.Integer({ minimum: 100, maximum: 3_600_000 }))
    })),
    simulation: opt(obj({
      rtt: Type.Optional(full ? RttMatrixSchema : Type.Unknown()),
      site: Type.Optional(Type.String({ pattern: '^[!-~]{1,64}$', errorText: 'must be 1-64 printable ASCII characters without spaces' })),
      faultsFile: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 }))
    })),
    resources: opt(obj(resourceFields)),
    services: opt(obj({
      repairGraceMs: opt(Type.Integer({ minimum: 1000, maximum: 3_600_000 }))
    })),
    scheduler: opt(obj({
      minReserveTrust: opt(Type.Integer({ minimum: 0, maximum: 1000 }))
    })),
    telemetry: opt(obj({
      tracing: opt(Type.Boolean()),
      otlpEndpoint: Type.Optional(Type.String({ pattern: '^https?://[!-~]{1,2040}$', errorText: 'must be an http:// or https:// URL' })),
      otlpProtocol: Type.Optional(Type.Union([Type.Literal('http/protobuf'), Type.Literal('grpc')], { errorText: 'must be http/protobuf or grpc' })),
      serviceName: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
      sampleRatio: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
      traceDomain: Type.Optional(Type.String({ pattern: '^[!-~]{1,128}$', errorText: 'must be 1-128 printable ASCII characters without spaces' })),
      traceSalt: Type.Optional(Type.String({ minLength: 8, maxLength: 256 })),
      hashFunctionNames: Type.Optional(Type.Boolean()),
      logSampling: Type.Optional(obj(Object.fromEntries(['error', 'warn', 'info', 'debug', 'trace'].map(l => [l, Type.Optional(Type.Number({ minimum: 0, maximum: 1 }))])))),
      logExport: Type.Optional(obj({
        file: Type.String({ minLength: 1, maxLength: 4096 }),
        intervalMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 3_600_000 })),
        maxBufferBytes: Type.Optional(Type.Integer({ minimum: 1024, maximum: 1 << 30 })),
        maxFileBytes: Type.Optional(Type.Integer({ minimum: 1024, maximum: 1 << 40 })),
        keepFiles: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 }))
      }))
    })),
    storage: opt(obj({
      encryption: opt(obj({
        enabled: opt(Type.Boolean()),
        provider: opt(Type.Union([Type.Literal('identity'), Type.Literal('passphrase'), Type.Literal('transit')], { errorText: 'must be one of identity, passphrase, transit' })),
        transit: Type.Optional(obj({
          url: Type.String({ pattern: '^https?://[!-~]{1,2000}$', errorText: 'must be an http(s) URL' }),
          key: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,128}$', errorText: 'must be 1-128 of A-Z a-z 0-9 _ . -' }),
          mount: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,128}$' }))
        }))
      }))
    })),
    nat: opt(obj({
      reachability: opt(Type.Union([Type.Literal('auto'), Type.Literal('public'), Type.Literal('private')], { errorText: 'must be one of auto, public, private' })),
      reservations: opt(Type.Integer({ minimum: 0, maximum: 8 })),
      autonat: opt(Type.Boolean()),
      holePunching: opt(Type.Boolean()),
      upnp: opt(Type.Boolean()),
      relayServer: opt(Type.Boolean()),
      relayMaxReservations: opt(Type.Integer({ minimum: 1, maximum: 10_000 })),
      relayMaxCircuits: opt(Type.Integer({ minimum: 1, maximum: 10_000 })),
      relayCircuitDurationMs: opt(Type.Integer({ minimum: 1000, maximum: 86_400_000 })),
      relayCircuitBytes: opt(Type.Integer({ minimum: 65_536, maximum: 2 ** 40 })),
      relayBytesPerHour: opt(Type.Integer({ minimum: 0, maximum: 2 ** 50 }))
    }))
  })
}

export const DcisConfigSchema = buildSchema(true)
export function configLayerSchema (): TSchema {
  return buildSchema(false)
}

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
