/**
 * HTTP routes of rollouts:
 *
 *   GET  /v1/rollouts                 {"rollouts": [...]}: state, version, cohort (regions), figures
 *   GET  /v1/rollouts/{name}          one function's rollout
 *   POST /v1/rollouts/{name}/promote  the canary becomes current everywhere (one decision)
 *   POST /v1/rollouts/{name}/abort    the canary is withdrawn everywhere (one decision)
 *   POST /dc/v1/deploy                the article's call: multipart `artifact` (wasm), `region`,
 *                                     `canary=true|false` [, `name`, `minHealthyTime`, ...] -> 201
 *
 * Deploy, promote and abort need the `deploy` role (same auth as /v1).
 */
import multipart from '@fastify/multipart'
import { errorResponse } from '../api/schemas.js'
import { FUNCTION_ERROR_STATUS, UnsupportedMediaTypeError } from '../wasm/routes.js'
import { DEFAULT_MAX_MODULE_BYTES } from '../wasm/validate.js'
import { ModuleTooLargeError } from '../wasm/errors.js'
import { deployAsRollout } from './deploy.js'
import { InvalidRolloutError, ROLLOUT_ERROR_STATUS } from './errors.js'
import { parseRolloutSpec } from './spec.js'
import type { RolloutService } from './service.js'
import type { ApiRoutes } from '../api/index.js'
import type { FunctionStore } from '../wasm/store/index.js'
import type { RolloutDeployResult } from './deploy.js'

export interface RolloutRouteSources {
  rollouts: () => RolloutService
  store: () => FunctionStore
}

const figures = {
  type: 'object',
  additionalProperties: false,
  required: ['count', 'errors', 'errorRate', 'p95Ms'],
  properties: { count: { type: 'integer' }, errors: { type: 'integer' }, errorRate: { type: 'number' }, p95Ms: { type: ['number', 'null'] } }
} as const

export const ROLLOUT_VIEW_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['function', 'id', 'state', 'version', 'from', 'cohort', 'spec', 'startedAt', 'startedBy', 'updatedAt', 'figures', 'peers', 'servedHere'],
  properties: {
    function: { type: 'string' },
    id: { type: 'string' },
    state: { type: 'string', enum: ['pending', 'canary', 'promoting', 'promoted', 'reverted', 'failed'] },
    version: { type: 'string', description: 'the canary version (CID)' },
    versionNumber: { type: 'integer' },
    from: { type: 'string', description: 'the version current when the rollout started' },
    fromNumber: { type: 'integer' },
    cohort: { type: 'array', items: { type: 'string' }, description: 'regions serving the canary now' },
    spec: {
      type: 'object',
      additionalProperties: false,
      properties: {
        canaryRegions: { type: 'array', items: { type: 'string' } },
        canaryShare: { type: 'number' },
        minHealthyTimeMs: { type: 'integer' },
        healthyDeadlineMs: { type: 'integer' },
        maxParallel: { type: 'integer' },
        staggerMs: { type: 'integer' },
        autoPromote: { type: 'boolean' },
        autoRevert: { type: 'boolean' },
        sla: {
          type: 'object',
          additionalProperties: false,
          properties: { latencyP95Ms: { type: 'number' }, errorRate: { type: 'number' }, relativeLatencyFactor: { type: 'number' }, relativeErrorRate: { type: 'number' }, minSamples: { type: 'integer' } }
        }
      }
    },
    startedAt: { type: 'string' },
    startedBy: { type: 'string' },
    canaryAt: { type: 'string' },
    updatedAt: { type: 'string' },
    reason: { type: 'string' },
    driver: { type: 'object', additionalProperties: false, properties: { peerId: { type: 'string' }, leaseUntil: { type: 'string' } } },
    figures: { type: 'object', additionalProperties: false, required: ['canary', 'baseline'], properties: { canary: figures, baseline: figures } },
    peers: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        properties: { peerId: { type: 'string' }, region: { type: 'string' }, inCohort: { type: 'boolean' }, at: { type: 'string' }, canary: figures, baseline: figures }
      }
    },
    servedHere: { type: 'boolean', description: 'this peer serves the canary now' }
  }
} as const

const deployedSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'name', 'version', 'rollout'],
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    version: { type: 'integer' },
    rollout: { anyOf: [ROLLOUT_VIEW_SCHEMA, { type: 'null' }] },
    note: { type: 'string' }
  }
} as const

const nameParam = { type: 'object', required: ['name'], properties: { name: { type: 'string', pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' } } } as const

/** the fields of the article's call besides artifact, region, canary, name, abi */
const SPEC_FIELDS = ['canaryShare', 'minHealthyTime', 'healthyDeadline', 'maxParallel', 'stagger', 'autoPromote', 'autoRevert', 'latencyP95Ms', 'errorRate', 'relativeLatencyFactor', 'relativeErrorRate', 'minSamples']
const SLA_KEYS = new Set(['latencyP95Ms', 'errorRate', 'relativeLatencyFactor', 'relativeErrorRate', 'minSamples'])

/** builds a rollout spec from flat fields (multipart fields, query strings) */
export function specFromFlat (fields: Record<string, string | number | boolean | undefined>, regions: unknown): ReturnType<typeof parseRolloutSpec> {
  const spec: Record<string, unknown> = { canaryRegions: regions }
  const sla: Record<string, unknown> = {}
  for (const k of SPEC_FIELDS) {
    const v = fields[k]
    if (v === undefined) continue
    if (SLA_KEYS.has(k)) sla[k] = v
    else spec[k] = v
  }
  if (Object.keys(sla).length > 0) spec.sla = sla
  return parseRolloutSpec(spec)
}

function out (r: RolloutDeployResult): Record<string, unknown> {
  return { id: r.deployed.id, name: r.deployed.name, version: r.deployed.version, rollout: r.rollout, ...(r.note != null ? { note: r.note } : {}) }
}

/** "target/wasm32-wasi/release/app.wasm" -> "app" */
export function nameFromFilename (filename: string | undefined): string | undefined {
  const base = (filename ?? '').split(/[\\/]/).pop() ?? ''
  const stem = base.replace(/\.wasm$/i, '').toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63).replace(/-+$/, '')
  return stem === '' ? undefined : stem
}

export function rolloutRoutes (sources: RolloutRouteSources, init: { maxModuleBytes?: number } = {}): ApiRoutes {
  const maxModule = init.maxModuleBytes ?? DEFAULT_MAX_MODULE_BYTES
  return {
    name: 'rollouts',
    description: 'Canary rollouts by region with automatic promotion and revert; the article\'s deploy call',
    errors: { ...FUNCTION_ERROR_STATUS, ...ROLLOUT_ERROR_STATUS, InvalidMultipartError: 400 },
    async register (app, ctx) {
      await app.register(multipart, { limits: { fileSize: maxModule, files: 1, fields: 32, fieldSize: 4096, parts: 40 } })

      app.get('/v1/rollouts', {
        schema: {
          summary: 'Rollouts of every function (the latest of each): state, version, cohort, figures',
          operationId: 'listRollouts',
          response: { 200: { type: 'object', additionalProperties: false, required: ['rollouts'], properties: { rollouts: { type: 'array', items: ROLLOUT_VIEW_SCHEMA } } } }
        }
      }, async () => ({ rollouts: sources.rollouts().list() }))

      app.get<{ Params: { name: string } }>('/v1/rollouts/:name', {
        schema: {
          summary: 'The rollout of one function',
          operationId: 'getRollout',
          params: nameParam,
          response: { 200: ROLLOUT_VIEW_SCHEMA, 404: errorResponse('the function has no rollout') }
        }
      }, async (req) => sources.rollouts().get(req.params.name))

      for (const action of ['promote', 'abort'] as const) {
        app.post<{ Params: { name: string } }>(`/v1/rollouts/:name/${action}`, {
          config: { role: 'deploy' },
          bodyLimit: 1024,
          schema: {
            summary: action === 'promote' ? 'Promote the canary: current everywhere now' : 'Abort the rollout: the canary is withdrawn everywhere',
            operationId: action === 'promote' ? 'promoteRollout' : 'abortRollout',
            params: nameParam,
            response: {
              200: ROLLOUT_VIEW_SCHEMA,
              404: errorResponse('the function has no rollout'),
              409: errorResponse('the rollout is already finished')
            }
          }
        }, async (req) => action === 'promote' ? await sources.rollouts().promote(req.params.name) : await sources.rollouts().abort(req.params.name))
      }

      app.post('/dc/v1/deploy', {
        config: { role: 'deploy' },
        bodyLimit: maxModule + 64 * 1024,
        schema: {
          summary: 'The article\'s deploy call: multipart artifact (wasm), region, canary=true|false -> a rollout',
          description: 'Fields: `artifact` (the .wasm file), `region` (the canary region; several comma-separated), `canary` (true: a canary rollout in `region`; false: current everywhere at once), optional `name` (default: the artifact\'s file name without .wasm), `abi`, and the rollout fields `canaryShare`, `minHealthyTime`, `healthyDeadline`, `maxParallel`, `stagger`, `autoPromote`, `autoRevert`, `latencyP95Ms`, `errorRate`, `relativeLatencyFactor`, `relativeErrorRate`, `minSamples`.',
          operationId: 'dcDeploy',
          consumes: ['multipart/form-data'],
          response: {
            201: deployedSchema,
            400: errorResponse('a missing or bad field, or not a valid module'),
            409: errorResponse('a rollout of this function is running'),
            413: errorResponse('artifact larger than the module limit'),
            415: errorResponse('not multipart/form-data'),
            422: errorResponse('a valid module the ABI does not allow')
          }
        }
      }, async (req, reply) => {
        if (!req.isMultipart()) throw new UnsupportedMediaTypeError('send the artifact as multipart/form-data (curl -F "artifact=@app.wasm" -F region=... -F canary=true)')
        const fields: Record<string, string> = {}
        let artifact: Buffer | undefined
        let filename: string | undefined
        try {
          for await (const part of req.parts()) {
            if (part.type === 'file') {
              if (part.fieldname !== 'artifact') { await part.toBuffer(); throw new InvalidRolloutError(part.fieldname, 'unknown file field (the module goes in `artifact`)') }
              artifact = await part.toBuffer()
              filename = part.filename
            } else {
              if (typeof part.value !== 'string') throw new InvalidRolloutError(part.fieldname, 'must be text')
              if (part.fieldname in fields) throw new InvalidRolloutError(part.fieldname, 'given twice')
              fields[part.fieldname] = part.value
            }
          }
        } catch (err) {
          const code = (err as { code?: string }).code
          if (code === 'FST_REQ_FILE_TOO_LARGE') {
            throw new ModuleTooLargeError(maxModule + 1, maxModule)
          }
          if (typeof code === 'string' && code.startsWith('FST_')) throw new InvalidMultipartError((err as Error).message)
          throw err
        }
        const known = new Set(['region', 'canary', 'name', 'abi', ...SPEC_FIELDS])
        for (const k of Object.keys(fields)) if (!known.has(k)) throw new InvalidRolloutError(k, 'unknown field')
        if (artifact == null || artifact.byteLength === 0) throw new InvalidRolloutError('artifact', 'the .wasm file is missing (-F "artifact=@app.wasm")')
        const name = fields.name ?? nameFromFilename(filename)
        if (name == null || !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(name)) throw new InvalidRolloutError('name', 'give a function name (-F name=...) or an artifact file name of a-z, 0-9 and "-"')
        const canary = fields.canary ?? 'false'
        if (canary !== 'true' && canary !== 'false') throw new InvalidRolloutError('canary', 'must be true or false')
        const abi = fields.abi ?? 'wasi'
        if (abi !== 'wasi' && abi !== 'reactor') throw new InvalidRolloutError('abi', 'must be wasi or reactor')
        let spec
        if (canary === 'true') {
          if (fields.region == null || fields.region.trim() === '') throw new InvalidRolloutError('region', 'a canary needs its region (-F region=eu-west-1)')
          spec = specFromFlat(fields, fields.region)
        }
        const r = await deployAsRollout(sources.store(), sources.rollouts(), new Uint8Array(artifact), { name, abi }, spec, { signal: ctx.requestSignal(reply) })
        reply.code(201)
        return out(r)
      })
    }
  }
}

/** A multipart body that could not be read (400). */
export class InvalidMultipartError extends Error {
  static readonly code = 'INVALID_MULTIPART'
  readonly code = InvalidMultipartError.code
  constructor (message: string) {
    super(message)
    this.name = 'InvalidMultipartError'
  }
}
