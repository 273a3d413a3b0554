/**
 * The config schemas, written with TypeBox. Not loaded by a peer: `npm run
 * gen:schemas` (scripts/gen-schemas.ts) compiles them into Ajv standalone
 * validators (validators.generated.ts), which is all a peer loads.
 */
import { Type } from '@sinclair/typebox'
import type { TSchema } from '@sinclair/typebox'
import { LOG_LEVELS, NAME_PATTERN, NAME_TEXT } from './schema.js'
import type { ConfigLogLevel } from './schema.js'

/** `errorText` replaces Ajv's generic message for that keyword's failure. */
const name = (): TSchema => Type.String({ pattern: NAME_PATTERN, errorText: NAME_TEXT })
const multiaddrList = (): TSchema => Type.Array(Type.String({ minLength: 1, maxLength: 1024 }), { maxItems: 256 })
const logLevel = (): TSchema => Type.Unsafe<ConfigLogLevel>({ type: 'string', enum: [...LOG_LEVELS] })

/** RTT matrix: square, entries ms >= 0 or null (unknown). Checked in code (rtt-matrix.ts). */
export const RttMatrixSchema = Type.Object({
  regions: Type.Array(Type.String({ minLength: 1 })),
  rttMs: Type.Array(Type.Array(Type.Union([Type.Number({ minimum: 0 }), Type.Null()])))
}, { additionalProperties: false })

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
export function buildSchema (full: boolean): TSchema {
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

