/**
 * HTTP routes of functions:
 *
 *   POST /v1/functions?name=&abi=[&memoryMb=&timeoutMs=&...]   application/wasm body -> 201 {id, name, version}
 *   GET  /v1/functions                                          {functions: [...]}
 *   GET  /v1/functions/{id}                                     id = CID or name: versions, events, health
 *   POST /v1/functions/{id}                                     invoke: body -> body, x-dcis-ran-on etc.
 *
 * Deploy and invoke need the `deploy` role: invoking runs code on the peer
 * (CPU, memory) and may forward it to others, so it is not a free read.
 */
import { errorResponse } from '../api/schemas.js'
import { ROUTING_ERROR_STATUS } from './routing/errors.js'
import { InvalidFunctionRequestError, UnknownFunctionError } from './store/errors.js'
import { DEFAULT_MAX_MODULE_BYTES } from './validate.js'
import type { FunctionInvoker } from './routing/index.js'
import type { FunctionRecord, FunctionStore } from './store/index.js'
import type { HealthChecks } from './health/index.js'
import type { ApiRoutes } from '../api/index.js'
import type { RolloutService } from '../rollouts/service.js'
import { deployAsRollout } from '../rollouts/deploy.js'
import { ROLLOUT_VIEW_SCHEMA, specFromFlat } from '../rollouts/routes.js'
import { ROLLOUT_ERROR_STATUS } from '../rollouts/errors.js'

/** The request's content type is not one this route takes (HTTP 415). */
export class UnsupportedMediaTypeError extends Error {
  readonly code = 'UNSUPPORTED_MEDIA_TYPE'
  constructor (message: string) {
    super(message)
    this.name = 'UnsupportedMediaTypeError'
  }
}

export interface FunctionRouteSources {
  store: () => FunctionStore
  invoker: () => FunctionInvoker
  health?: () => HealthChecks
  /** with rollouts, a deploy with canary fields starts a rollout instead of becoming current */
  rollouts?: () => RolloutService
}

export interface FunctionRoutesInit {
  /** deploy body limit (default 5 MiB, as the store's); bigger bodies are 413 */
  maxModuleBytes?: number
  /** invoke body limit (default 16 MiB) */
  maxInputBytes?: number
  /** how long an invoke may take over HTTP, default 60 s (the function's own timeout is usually far lower) */
  invokeTimeoutMs?: number
}

/** The error statuses of these routes (the runtime's, the store's, routing's; invalid imports/exports are 422). */
export const FUNCTION_ERROR_STATUS: Readonly<Record<string, number>> = Object.freeze({
  ...ROUTING_ERROR_STATUS,
  ...ROLLOUT_ERROR_STATUS,
  DisallowedImportError: 422,
  MissingExportError: 422,
  UnsupportedMediaTypeError: 415
})

const limitsQuery = {
  memoryMb: { type: 'number', minimum: 0.0625, maximum: 4096 },
  timeoutMs: { type: 'integer', minimum: 1, maximum: 600000 },
  maxOutputBytes: { type: 'integer', minimum: 0, maximum: 67108864 },
  maxInputBytes: { type: 'integer', minimum: 1, maximum: 67108864 },
  maxConcurrency: { type: 'integer', minimum: 1, maximum: 1024 },
  maxQueue: { type: 'integer', minimum: 0, maximum: 100000 }
} as const

interface DeployQuery {
  name: string
  abi?: 'wasi' | 'reactor'
  warmPoolSize?: number
  memoryMb?: number
  timeoutMs?: number
  maxOutputBytes?: number
  maxInputBytes?: number
  maxConcurrency?: number
  maxQueue?: number
  canaryRegions?: string
  canaryShare?: number
  minHealthyTime?: string
  healthyDeadline?: string
  maxParallel?: number
  stagger?: string
  autoPromote?: boolean
  autoRevert?: boolean
  latencyP95Ms?: number
  errorRate?: number
  relativeLatencyFactor?: number
  relativeErrorRate?: number
  minSamples?: number
}

/** deploy query fields that make the deploy a canary rollout (docs/rollouts.md) */
const rolloutQuery = {
  canaryRegions: { type: 'string', description: 'comma-separated canary regions: the deploy becomes a rollout' },
  canaryShare: { type: 'number', minimum: 0.001, maximum: 1 },
  minHealthyTime: { type: 'string', description: 'e.g. 30s' },
  healthyDeadline: { type: 'string', description: 'e.g. 5m' },
  maxParallel: { type: 'integer', minimum: 0, maximum: 1000 },
  stagger: { type: 'string', description: 'e.g. 30s' },
  autoPromote: { type: 'boolean' },
  autoRevert: { type: 'boolean' },
  latencyP95Ms: { type: 'number', minimum: 0.001 },
  errorRate: { type: 'number', minimum: 0, maximum: 1 },
  relativeLatencyFactor: { type: 'number', minimum: 1 },
  relativeErrorRate: { type: 'number', minimum: 0, maximum: 1 },
  minSamples: { type: 'integer', minimum: 1 }
} as const

const versionSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'version', 'abi', 'size', 'deployedAt', 'knownGood', 'current'],
  properties: {
    id: { type: 'string' },
    version: { type: 'integer' },
    abi: { type: 'string' },
    size: { type: 'integer' },
    deployedAt: { type: 'string' },
    deployedBy: { type: 'string', description: 'the peer it was deployed through' },
    knownGood: { type: 'boolean' },
    current: { type: 'boolean' },
    warmPoolSize: { type: 'integer' },
    limits: { type: 'object', additionalProperties: { type: 'number' } },
    envKeys: { type: 'array', items: { type: 'string' } },
    grants: {
      type: 'object',
      description: 'clock, random, env (booleans); services (name -> read | write | read-write), caches and sinks (names): what the host interface may touch',
      additionalProperties: { anyOf: [{ type: 'boolean' }, { type: 'array', items: { type: 'string' } }, { type: 'object', additionalProperties: { type: 'string' } }] }
    }
  }
} as const

const summarySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'id', 'version', 'abi', 'size', 'versions'],
  properties: {
    name: { type: 'string' },
    id: { type: 'string', description: 'CID of the current version' },
    version: { type: 'integer' },
    abi: { type: 'string' },
    size: { type: 'integer' },
    versions: { type: 'integer', description: 'versions in the history' },
    knownGood: { type: 'boolean' }
  }
} as const

const eventSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['at', 'type'],
  properties: {
    at: { type: 'string' },
    type: { type: 'string' },
    version: { type: 'integer' },
    id: { type: 'string' },
    from: { type: 'string' },
    reason: { type: 'string' },
    by: { type: 'string', description: 'the peer that recorded it' }
  }
} as const

function summary (rec: FunctionRecord): Record<string, unknown> {
  const v = rec.versions.find(x => x.id === rec.current) ?? rec.versions[rec.versions.length - 1]
  return { name: rec.name, id: v.id, version: v.version, abi: v.abi, size: v.size, versions: rec.versions.length, knownGood: v.knownGood }
}

function detail (rec: FunctionRecord, health: HealthChecks | undefined): Record<string, unknown> {
  return {
    ...summary(rec),
    versions: rec.versions.map(v => ({
      id: v.id,
      version: v.version,
      abi: v.abi,
      size: v.size,
      deployedAt: v.deployedAt,
      deployedBy: v.deployedBy,
      knownGood: v.knownGood,
      current: v.id === rec.current,
      ...(v.warmPoolSize != null ? { warmPoolSize: v.warmPoolSize } : {}),
      ...(v.limits != null ? { limits: v.limits } : {}),
      // env values may be secrets: only their names are shown
      ...(v.env != null ? { envKeys: Object.keys(v.env) } : {}),
      ...(v.grants != null ? { grants: v.grants } : {})
    })),
    events: rec.events,
    health: health?.forFunction(rec.name) ?? []
  }
}

export function functionRoutes (sources: FunctionRouteSources, init: FunctionRoutesInit = {}): ApiRoutes {
  const maxModule = init.maxModuleBytes ?? DEFAULT_MAX_MODULE_BYTES
  const maxInput = init.maxInputBytes ?? 16 * 1024 * 1024
  const invokeTimeoutMs = init.invokeTimeoutMs ?? 60_000
  return {
    name: 'functions',
    description: 'Content-addressed Wasm functions: deploy, list, invoke (run here or on the nearest capable peer)',
    errors: FUNCTION_ERROR_STATUS,
    register (app, ctx) {
      // raw bodies in this plugin only (encapsulated): an invoke body is the
      // function's input whatever its type, JSON included
      app.removeAllContentTypeParsers()
      app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: Math.max(maxInput, maxModule * 2) }, (_req, body, done) => { done(null, body) })

      app.post<{ Querystring: DeployQuery, Body: Buffer | undefined }>('/v1/functions', {
        config: { role: 'deploy' },
        // a little above the module limit, so that a slightly oversized module gets the store's precise 413
        bodyLimit: maxModule * 2,
        schema: {
          summary: 'Deploy a Wasm module (application/wasm body) as the current version of `name`',
          operationId: 'deployFunction',
          consumes: ['application/wasm'],
          querystring: {
            type: 'object',
            additionalProperties: false,
            required: ['name'],
            properties: {
              name: { type: 'string', pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' },
              abi: { type: 'string', enum: ['wasi', 'reactor'] },
              warmPoolSize: { type: 'integer', minimum: 0, maximum: 16 },
              ...limitsQuery,
              ...rolloutQuery
            }
          },
          response: {
            201: {
              description: 'stored, loaded and current (or, with canaryRegions, a rollout started)',
              type: 'object',
              additionalProperties: false,
              required: ['id', 'name', 'version'],
              properties: { id: { type: 'string', description: 'CIDv1 (raw, sha2-256) of the bytes' }, name: { type: 'string' }, version: { type: 'integer' }, rollout: { anyOf: [ROLLOUT_VIEW_SCHEMA, { type: 'null' }] }, note: { type: 'string' } }
            },
            409: errorResponse('a rollout of this function is running'),
            400: errorResponse('not a valid module, or a bad parameter (the message names it)'),
            413: errorResponse('module larger than the limit (5 MiB by default)'),
            415: errorResponse('the body is not application/wasm'),
            422: errorResponse('a valid module the ABI does not allow: disallowed import or missing export')
          }
        }
      }, async (req, reply) => {
        const type = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase()
        if (type !== 'application/wasm' && type !== 'application/octet-stream') {
          throw new UnsupportedMediaTypeError(`a module must be sent as application/wasm, not ${type === '' ? 'no content type' : type}`)
        }
        const q = req.query
        const limits: Record<string, number> = {}
        for (const k of Object.keys(limitsQuery) as Array<keyof typeof limitsQuery>) {
          if (q[k] !== undefined) limits[k] = q[k]
        }
        const bytes = new Uint8Array(req.body ?? Buffer.alloc(0))
        const rolloutFields = Object.keys(rolloutQuery).filter(k => q[k as keyof DeployQuery] !== undefined)
        if (rolloutFields.length > 0) {
          const rollouts = sources.rollouts?.()
          if (rollouts == null) throw new UnsupportedMediaTypeError('this peer runs no rollouts')
          if (q.canaryRegions == null) throw new InvalidFunctionRequestError('canaryRegions', `${rolloutFields.join(', ')} need canaryRegions`)
          const spec = specFromFlat(q as unknown as Record<string, string | number | boolean | undefined>, q.canaryRegions)
          const rr = await deployAsRollout(sources.store(), rollouts, bytes, {
            name: q.name,
            abi: q.abi ?? 'wasi',
            ...(Object.keys(limits).length > 0 ? { limits } : {}),
            ...(q.warmPoolSize !== undefined ? { warmPoolSize: q.warmPoolSize } : {})
          }, spec, { signal: ctx.requestSignal(reply) })
          reply.code(201)
          return { id: rr.deployed.id, name: rr.deployed.name, version: rr.deployed.version, rollout: rr.rollout, ...(rr.note != null ? { note: rr.note } : {}) }
        }
        const r = await sources.store().deploy(bytes, {
          name: q.name,
          abi: q.abi ?? 'wasi',
          ...(Object.keys(limits).length > 0 ? { limits } : {}),
          ...(q.warmPoolSize !== undefined ? { warmPoolSize: q.warmPoolSize } : {})
        }, { signal: ctx.requestSignal(reply) })
        // where the peer's time went (ms), for clients and benchmarks
        const l = r.load
        void reply.header('server-timing', `check;dur=${r.checkMs.toFixed(3)}, store;dur=${r.storedMs.toFixed(3)}, validate;dur=${l.validateMs.toFixed(3)}, compile;dur=${l.compileMs.toFixed(3)}, warm;dur=${l.warmMs.toFixed(3)}, load;dur=${l.totalMs.toFixed(3)}`)
        reply.code(201)
        return { id: r.id, name: r.name, version: r.version }
      })

      app.get('/v1/functions', {
        schema: {
          summary: 'Functions known to this peer (current version of each name)',
          operationId: 'listFunctions',
          response: {
            200: { description: 'functions', type: 'object', additionalProperties: false, required: ['functions'], properties: { functions: { type: 'array', items: summarySchema } } }
          }
        }
      }, async () => ({ functions: sources.store().list().map(summary) }))

      app.get<{ Params: { id: string } }>('/v1/functions/:id', {
        schema: {
          summary: 'One function by name or CID: its versions, events (deploys, rollbacks) and health checks',
          operationId: 'getFunction',
          params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 128 } } },
          response: {
            200: {
              description: 'the function',
              type: 'object',
              additionalProperties: false,
              required: ['name', 'id', 'version', 'abi', 'size', 'versions', 'events', 'health'],
              properties: {
                ...summarySchema.properties,
                versions: { type: 'array', items: versionSchema },
                events: { type: 'array', items: eventSchema },
                health: { type: 'array', items: { type: 'object', additionalProperties: true } }
              }
            },
            404: errorResponse('no function of that name or id on this peer (code FUNCTION_NOT_FOUND)')
          }
        }
      }, async (req) => {
        const ref = sources.store().resolve(req.params.id)
        if (ref == null) throw new UnknownFunctionError(req.params.id)
        return detail(ref.record, sources.health?.())
      })

      app.post<{ Params: { id: string }, Body: Buffer | undefined }>('/v1/functions/:id', {
        config: { role: 'deploy', target: { kind: 'function', param: 'id' } },
        bodyLimit: maxInput,
        schema: {
          summary: 'Invoke a function (by name or CID): the request body is its input, the response body its output. Runs here when this peer has room, else on the nearest capable peer.',
          operationId: 'invokeFunction',
          params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 128 } } },
          response: {
            200: {
              description: 'the function\'s output (application/octet-stream); headers x-dcis-ran-on (peer id), x-dcis-duration-ms, x-dcis-cold-start, x-dcis-function-id',
              type: 'string',
              format: 'binary'
            },
            404: errorResponse('unknown function'),
            413: errorResponse('request body too large'),
            422: errorResponse('the function exited non-zero (code FUNCTION_FAILED)'),
            429: errorResponse('the function (or this caller) is at its concurrency limit and queue'),
            502: errorResponse('the function trapped or its output was too large'),
            503: errorResponse('this peer (and the peers tried) are overloaded'),
            504: errorResponse('the function ran past its timeout and was terminated')
          }
        }
      }, async (req, reply) => {
        const input = req.body == null ? new Uint8Array(0) : new Uint8Array(req.body.buffer, req.body.byteOffset, req.body.byteLength)
        const r = await sources.invoker().invoke(req.params.id, input, {
          signal: ctx.requestSignal(reply, invokeTimeoutMs),
          caller: req.caller?.did ?? req.socket.remoteAddress ?? 'unknown',
          ...(req.caller?.token !== undefined ? { token: req.caller.token } : {})
        })
        void reply
          .header('content-type', 'application/octet-stream')
          .header('x-dcis-ran-on', r.ranOn)
          .header('x-dcis-duration-ms', r.durationMs.toFixed(3))
          .header('x-dcis-cold-start', String(r.coldStart))
          .header('x-dcis-function-id', r.id)
        return await reply.send(Buffer.from(r.output.buffer, r.output.byteOffset, r.output.byteLength))
      })
    }
  }
}
