/**
 * HTTP routes of the scheduler (an ApiRoutes plugin):
 *   POST   /v1/allocations[?explain=true]   place and reserve -> 201 allocation
 *   GET    /v1/allocations                  reservations this peer holds
 *   GET    /v1/allocations/{id}             from any peer (forwarded to the owner)
 *   DELETE /v1/allocations/{id}             from any peer (the owner releases every replica)
 *   POST   /v1/allocations/{id}/renew       extend the lease of every replica
 * A failed placement is 409 NO_PLACEMENT whose message carries the
 * explanation as JSON (the error envelope allows no extra fields).
 */
import { parseAllocationRequest } from './constraints.js'
import { SCHEDULER_ERROR_STATUS } from './errors.js'
import { toView } from './service.js'
import type { AllocationService } from './service.js'
import type { ApiRoutes } from '../api/index.js'

const label = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$' } as const

const constraintsSchema = {
  type: 'object',
  additionalProperties: false,
  description: 'placement constraints; all optional',
  properties: {
    runtime: { type: 'string', enum: ['wasi', 'reactor', 'wasm'], description: 'wasm = the default Wasm runtime (wasi); answers name the resolved runtime' },
    cpu: { anyOf: [{ type: 'number', minimum: 0.001 }, { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)?m?$' }], description: 'cores (fractions allowed) or a quantity string ("2", "500m" = half a core), against free capacity' },
    memory: { anyOf: [{ type: 'string' }, { type: 'integer' }], description: 'bytes, or a quantity with a unit: 256Mi, 1Gi, 512M (Ki Mi Gi Ti K M G T)' },
    latencyMs: { type: 'number', minimum: 0.001, description: 'hard limit on the RTT from `from` (estimate + error bound must fit; borderline candidates are probed)' },
    region: label,
    tee: { type: 'boolean' },
    trust: { type: 'number', minimum: 0, description: 'minimum trust level' },
    arch: label,
    from: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$', description: 'peer id or region latency is measured from (default: this peer)' }
  }
} as const

const explanationSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['total', 'removed', 'latencyUnknown', 'borderline', 'borderlineRejectedByProbe', 'refused', 'unreachable', 'eligible', 'replicas', 'from'],
  description: 'how many candidates each constraint removed, in order',
  properties: {
    total: { type: 'integer' },
    removed: {
      type: 'object',
      additionalProperties: false,
      required: ['runtime', 'cpu', 'memory', 'region', 'tee', 'trust', 'arch', 'latency'],
      properties: {
        runtime: { type: 'integer' },
        cpu: { type: 'integer' },
        memory: { type: 'integer' },
        region: { type: 'integer' },
        tee: { type: 'integer' },
        trust: { type: 'integer' },
        arch: { type: 'integer' },
        latency: { type: 'integer' }
      }
    },
    latencyUnknown: { type: 'integer' },
    borderline: { type: 'integer' },
    borderlineRejectedByProbe: { type: 'integer' },
    refused: { type: 'integer' },
    unreachable: { type: 'integer' },
    eligible: { type: 'integer' },
    replicas: { type: 'integer' },
    from: { type: 'string' }
  }
} as const

const allocationSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'nodes', 'constraints', 'expiresAt', 'leaseMs', 'cpu', 'memoryMb'],
  properties: {
    id: { type: 'string', description: '<ownerPeerId>.<suffix>: any peer routes it to the owner' },
    nodes: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['peerId', 'region', 'zone'],
        properties: {
          peerId: { type: 'string' },
          region: { type: 'string' },
          zone: { type: 'string' },
          rttMs: { type: ['number', 'null'], description: 'RTT estimate or probe when placed (POST answer only)' }
        }
      }
    },
    constraints: constraintsSchema,
    expiresAt: { type: 'string', format: 'date-time' },
    leaseMs: { type: 'integer' },
    cpu: { type: 'number', description: 'cores reserved on each node' },
    memoryMb: { type: 'integer', description: 'MiB reserved on each node' },
    explanation: explanationSchema
  }
} as const

const idParams = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'string', minLength: 1, maxLength: 200 } }
} as const

type ServiceRef = AllocationService | (() => AllocationService)

export function allocationRoutes (ref: ServiceRef): ApiRoutes {
  const svc = (): AllocationService => typeof ref === 'function' ? ref() : ref
  return {
    name: 'allocations',
    description: 'Latency-aware placement and reservations (/dcis/alloc/1.0.0)',
    errors: SCHEDULER_ERROR_STATUS,
    register (app, ctx) {
      app.post<{ Body: unknown, Querystring: { explain?: boolean } }>('/v1/allocations', {
        config: { role: 'allocate' },
        schema: {
          summary: 'Place an allocation on peers that satisfy the constraints and reserve it there',
          operationId: 'createAllocation',
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { explain: { type: 'boolean', description: 'include the filter explanation in the answer' } }
          },
          body: {
            type: 'object',
            additionalProperties: false,
            properties: {
              runtime: { type: 'string', enum: ['wasi', 'reactor', 'wasm'], description: 'same as constraints.runtime (wasm = the default Wasm runtime)' },
              constraints: constraintsSchema,
              replicas: { type: 'integer', minimum: 1, maximum: 16, description: 'spread across zones, one per zone first' },
              leaseMs: { type: 'integer', minimum: 1000, description: 'lease (renewable); expired leases free the capacity' }
            }
          },
          response: {
            201: { description: 'placed and reserved', ...allocationSchema },
            409: { description: 'no placement: the message says how many candidates each constraint removed (JSON after "explanation")', $ref: 'ErrorEnvelope#' }
          }
        }
      }, async (request, reply) => {
        const parsed = parseAllocationRequest(request.body)
        const view = await svc().allocate(parsed, { signal: ctx.requestSignal(reply), explain: request.query.explain === true, ...callerToken(request) })
        return reply.code(201).send(view)
      })

      app.get('/v1/allocations', {
        schema: {
          summary: 'Reservations held by this peer (as owner or replica)',
          operationId: 'listLocalAllocations',
          response: {
            200: {
              description: 'live reservations on this peer',
              type: 'object',
              additionalProperties: false,
              required: ['allocations', 'free'],
              properties: {
                allocations: { type: 'array', items: allocationSchema },
                free: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['cpu', 'memoryMb'],
                  properties: { cpu: { type: 'number' }, memoryMb: { type: 'number' } }
                }
              }
            }
          }
        }
      }, async () => ({ allocations: svc().ledger.list().map(toView), free: svc().free() }))

      app.get<{ Params: { id: string } }>('/v1/allocations/:id', {
        schema: {
          summary: 'An allocation, from its owning peer',
          operationId: 'getAllocation',
          params: idParams,
          response: { 200: { description: 'the allocation', ...allocationSchema } }
        }
      }, async (request, reply) => svc().get(request.params.id, { signal: ctx.requestSignal(reply), ...callerToken(request) }))

      app.delete<{ Params: { id: string } }>('/v1/allocations/:id', {
        config: { role: 'allocate', target: { kind: 'allocation', param: 'id' } },
        schema: {
          summary: 'Release an allocation on every node (through its owning peer)',
          operationId: 'deleteAllocation',
          params: idParams,
          response: { 200: { description: 'the released allocation', ...allocationSchema } }
        }
      }, async (request, reply) => svc().release(request.params.id, { signal: ctx.requestSignal(reply), ...callerToken(request) }))

      app.post<{ Params: { id: string }, Body: { leaseMs?: number } }>('/v1/allocations/:id/renew', {
        config: { role: 'allocate', target: { kind: 'allocation', param: 'id' } },
        schema: {
          summary: 'Extend the lease of an allocation on every node',
          operationId: 'renewAllocation',
          params: idParams,
          body: {
            type: 'object',
            additionalProperties: false,
            properties: { leaseMs: { type: 'integer', minimum: 1000, maximum: 2592000000 } }
          },
          response: { 200: { description: 'the renewed allocation', ...allocationSchema } }
        }
      }, async (request, reply) => svc().renew(request.params.id, request.body?.leaseMs, { signal: ctx.requestSignal(reply), ...callerToken(request) }))
    }
  }
}

/** the API caller's bearer token, sent along to the peers that hold the allocation (re-authorised there) */
function callerToken (request: { caller?: { token?: string } }): { token?: string } {
  const t = request.caller?.token
  return t !== undefined && t !== '' ? { token: t } : {}
}
