import { errorResponse } from '../api/schemas.js'
import { KeyNotFoundError, SERVICE_ERROR_STATUS } from './errors.js'
import { provenanceKey, readProvenance, signProvenance } from './provenance.js'
import type { ProvenanceView } from './provenance.js'
import type { JwtSigningIdentity } from '../identity/index.js'
import type { StatefulServices } from './stateful.js'
import type { ApiRoutes } from '../api/index.js'

const nameParam = { type: 'string', pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' } as const
const keyParam = { type: 'string', minLength: 1, maxLength: 512, pattern: '^[^\\u0000]', description: 'any text not starting with NUL (reserved for provenance records)' } as const
const MAX_VALUE_BYTES = 1024 * 1024

const kvEntry = {
  type: 'object',
  required: ['key', 'value', 'revision'],
  additionalProperties: false,
  properties: { key: { type: 'string' }, value: { type: 'string' }, revision: { type: 'integer' } }
} as const

const revisionOnly = {
  type: 'object',
  required: ['revision'],
  additionalProperties: false,
  properties: { revision: { type: 'integer', description: 'the key\'s new revision (revisions only grow, deletes included)' } }
} as const

const replicaList = {
  type: 'array',
  items: {
    type: 'object',
    required: ['peerId', 'region', 'zone', 'role'],
    additionalProperties: false,
    properties: { peerId: { type: 'string' }, region: { type: ['string', 'null'] }, zone: { type: ['string', 'null'] }, role: { type: 'string', enum: ['voter', 'learner', 'replica'] } }
  }
} as const

const serviceStatus = {
  type: 'object',
  required: ['name', 'spec', 'replicas', 'desiredReplicas', 'liveReplicas', 'conditions', 'local'],
  additionalProperties: false,
  properties: {
    name: { type: 'string' },
    spec: { type: 'object', additionalProperties: true },
    replicas: { ...replicaList, description: 'the placed replicas (eventual: the catalogue; strong: the Raft configuration)' },
    desiredReplicas: { type: 'integer', description: 'spec.replicas' },
    liveReplicas: { ...replicaList, description: 'placed replicas whose peers this peer reaches now' },
    conditions: {
      type: 'array',
      description: 'Kubernetes-style conditions: Available, FullyReplicated (reason: ZoneUnserved, InsufficientPeers, ReplicaUnreachable, ReplicaGone, Repairing), ZonesServed',
      items: {
        type: 'object',
        required: ['type', 'status', 'reason', 'message'],
        additionalProperties: false,
        properties: { type: { type: 'string' }, status: { type: 'string', enum: ['True', 'False', 'Unknown'] }, reason: { type: 'string' }, message: { type: 'string' } }
      }
    },
    leader: { type: ['string', 'null'], description: 'strong services: the Raft leader\'s peer id' },
    term: { type: 'integer' },
    commitIndex: { type: 'integer' },
    stalenessMs: { type: ['number', 'null'], description: 'eventual services: how far behind this peer\'s replica is' },
    local: { type: 'boolean', description: 'this peer holds a replica' }
  }
} as const

const notFound = errorResponse('no such service (SERVICE_NOT_FOUND) or key (KEY_NOT_FOUND)')

/** The data API of stateful services (DESIGN.md): status, KV with CAS, counters. */
const provenanceSchema = {
  type: ['object', 'null'],
  description: 'who wrote this value, when, through which peer, signed by that peer (null: no record, e.g. a trusted loopback writer)',
  required: ['writer', 'at', 'via', 'rev', 'verified', 'stale', 'jwt'],
  additionalProperties: false,
  properties: {
    writer: { type: 'string', description: 'the caller\'s DID' },
    at: { type: 'string', description: 'ISO 8601' },
    via: { type: 'string', description: 'the DID of the peer that took the write and signed this record' },
    rev: { type: 'integer', description: 'the revision the record attests' },
    verified: { type: 'boolean' },
    stale: { type: 'boolean', description: 'the record attests another revision than the current one (a later write had no provenance)' },
    jwt: { type: 'string', description: 'the signed record (EdDSA JWT, iss = via)' }
  }
} as const

/**
 * The data API of stateful services (DESIGN.md): status, KV with CAS, counters.
 * With `provenance` (the peer's identity), a write by a caller identified by
 * a token also stores a signed provenance record (src/services/provenance.ts).
 */
export function serviceRoutes (services: () => StatefulServices, provenance?: () => JwtSigningIdentity | undefined): ApiRoutes {
  return {
    name: 'services',
    description: 'Stateful services: status, key/value with revisions and compare-and-set, counters',
    errors: SERVICE_ERROR_STATUS,
    // text/plain bodies (kv values) use fastify's own parser; the PUT route sets its body limit
    register (app, ctx) {
      app.get('/v1/services', {
        schema: {
          summary: 'Services the mesh knows, with their consistency mode',
          operationId: 'listServices',
          response: {
            200: {
              description: 'services',
              type: 'object',
              required: ['services'],
              additionalProperties: false,
              properties: { services: { type: 'array', items: { type: 'object', required: ['name', 'mode'], additionalProperties: false, properties: { name: { type: 'string' }, mode: { type: 'string', enum: ['eventual', 'strong'] } } } } }
            }
          }
        }
      }, async () => ({ services: services().list() }))

      app.get<{ Params: { name: string } }>('/v1/services/:name', {
        schema: {
          summary: 'A service\'s spec and status: replicas, leader (strong), staleness (eventual)',
          operationId: 'getService',
          params: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: nameParam } },
          response: { 200: { description: 'status', ...serviceStatus }, 404: notFound }
        }
      }, async (req, reply) => services().status(req.params.name, { signal: ctx.requestSignal(reply) }))

      app.delete<{ Params: { name: string } }>('/v1/services/:name', {
        config: { role: 'services', target: { kind: 'service', param: 'name' } },
        schema: {
          summary: 'Delete a service mesh-wide (either mode): its replicas stop and drop their data, reservations are released',
          operationId: 'deleteService',
          params: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: nameParam } },
          response: {
            200: {
              description: 'deleted',
              type: 'object',
              required: ['name', 'mode', 'deleted'],
              additionalProperties: false,
              properties: { name: { type: 'string' }, mode: { type: 'string', enum: ['eventual', 'strong'] }, deleted: { type: 'boolean' } }
            },
            404: notFound
          }
        }
      }, async (req, reply) => services().remove(req.params.name, { signal: ctx.requestSignal(reply), token: req.caller?.token }))

      const kvParams = { type: 'object', required: ['name', 'key'], additionalProperties: false, properties: { name: nameParam, key: keyParam } } as const

      app.get<{ Params: { name: string, key: string }, Querystring: { provenance?: boolean } }>('/v1/services/:name/kv/:key', {
        config: { read: true, target: { kind: 'service', param: 'name' } },
        schema: {
          summary: 'Read a key (linearizable for strong services); ?provenance=true adds who wrote it, when, via which peer (signed)',
          operationId: 'getKey',
          params: kvParams,
          querystring: { type: 'object', additionalProperties: false, properties: { provenance: { type: 'boolean' } } },
          response: { 200: { description: 'the value', ...kvEntry, properties: { ...kvEntry.properties, provenance: provenanceSchema } }, 404: notFound }
        }
      }, async (req, reply) => {
        const options = { signal: ctx.requestSignal(reply), token: req.caller?.token }
        const entry = await services().get(req.params.name, req.params.key, options)
        if (req.query.provenance !== true) return entry
        let record: ProvenanceView | null = null
        try {
          const p = await services().get(req.params.name, provenanceKey(req.params.key), options)
          record = await readProvenance(p.value, req.params.name, req.params.key, entry.revision)
        } catch (err) {
          if (!(err instanceof KeyNotFoundError)) throw err
        }
        return { ...entry, provenance: record === null ? null : { writer: record.writer, at: record.at, via: record.via, rev: record.rev, verified: record.verified, stale: record.stale, jwt: record.jwt } }
      })

      app.put<{ Params: { name: string, key: string }, Querystring: { ifRevision?: number }, Body: string }>('/v1/services/:name/kv/:key', {
        config: { role: 'services', target: { kind: 'service', param: 'name' } },
        bodyLimit: MAX_VALUE_BYTES,
        schema: {
          summary: 'Write a key; the body is the value (text). ?ifRevision=N: compare-and-set (0 = only if absent)',
          operationId: 'putKey',
          consumes: ['text/plain'],
          params: kvParams,
          querystring: { type: 'object', additionalProperties: false, properties: { ifRevision: { type: 'integer', minimum: 0 } } },
          response: { 200: { description: 'written', ...revisionOnly }, 404: notFound, 409: errorResponse('compare-and-set mismatch (REVISION_MISMATCH)') }
        }
      }, async (req, reply) => {
        const value = typeof req.body === 'string' ? req.body : JSON.stringify(req.body ?? '')
        const signal = ctx.requestSignal(reply)
        const written = await services().put(req.params.name, req.params.key, value, { ifRevision: req.query.ifRevision, signal, token: req.caller?.token })
        const peer = provenance?.()
        const caller = req.caller
        if (peer !== undefined && caller !== undefined && caller.did !== 'loopback') {
          // the record names the revision it attests; written after the value, through the same path
          const jwt = await signProvenance(peer, { svc: req.params.name, key: req.params.key, rev: written.revision, writer: caller.did })
          await services().put(req.params.name, provenanceKey(req.params.key), jwt, { signal, token: caller.token })
        }
        return written
      })

      app.delete<{ Params: { name: string, key: string }, Querystring: { ifRevision?: number } }>('/v1/services/:name/kv/:key', {
        config: { role: 'services', target: { kind: 'service', param: 'name' } },
        schema: {
          summary: 'Delete a key (gets a new revision too)',
          operationId: 'deleteKey',
          params: kvParams,
          querystring: { type: 'object', additionalProperties: false, properties: { ifRevision: { type: 'integer', minimum: 1 } } },
          response: { 200: { description: 'deleted', ...revisionOnly }, 404: notFound, 409: errorResponse('compare-and-set mismatch (REVISION_MISMATCH)') }
        }
      }, async (req, reply) => services().delete(req.params.name, req.params.key, { ifRevision: req.query.ifRevision, signal: ctx.requestSignal(reply), token: req.caller?.token }))

      const counter = { type: 'object', required: ['value'], additionalProperties: false, properties: { value: { type: 'number' } } } as const
      app.get<{ Params: { name: string, key: string } }>('/v1/services/:name/counters/:key', {
        config: { read: true, target: { kind: 'service', param: 'name' } },
        schema: {
          summary: 'A counter\'s value (0 if never written)',
          operationId: 'getCounter',
          params: kvParams,
          response: { 200: { description: 'value', ...counter }, 404: notFound }
        }
      }, async (req, reply) => services().counter(req.params.name, req.params.key, { signal: ctx.requestSignal(reply), token: req.caller?.token }))

      app.post<{ Params: { name: string, key: string }, Body: { delta: number } }>('/v1/services/:name/counters/:key', {
        config: { role: 'services', target: { kind: 'service', param: 'name' } },
        schema: {
          summary: 'Add to a counter (negative deltas allowed: PN-counter)',
          operationId: 'addCounter',
          params: kvParams,
          body: { type: 'object', required: ['delta'], additionalProperties: false, properties: { delta: { type: 'integer', minimum: -1e15, maximum: 1e15 } } },
          response: { 200: { description: 'the new local value', ...counter }, 404: notFound }
        }
      }, async (req, reply) => services().addCounter(req.params.name, req.params.key, req.body.delta, { signal: ctx.requestSignal(reply), token: req.caller?.token }))
    }
  }
}
