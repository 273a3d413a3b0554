import { errorResponse } from '../api/schemas.js'
import type { EndRegistry } from './registry.js'
import type { RegistryEntry, RegistryFilter } from './cache.js'
import type { ApiRoutes } from '../api/index.js'

const nodeSchema = {
  type: 'object',
  required: ['peerId', 'did', 'region', 'zone', 'end', 'endJwt', 'cid', 'trust', 'expiresAt', 'source'],
  additionalProperties: false,
  properties: {
    peerId: { type: 'string' },
    did: { type: 'string' },
    region: { type: 'string' },
    zone: { type: 'string' },
    end: { type: 'object', additionalProperties: true, description: 'the verified END (credentialSubject); schema in protocols/end/end.schema.json' },
    endJwt: { type: 'string', description: 'the END VC-JWT, verifiable by any did-jwt verifier' },
    cid: { type: ['string', 'null'], description: 'CID of the {endJwt} block in helia (own descriptor), null if not known' },
    trust: {
      type: 'object',
      required: ['level', 'source', 'attestedRegion'],
      additionalProperties: false,
      properties: {
        level: { type: 'integer' },
        source: { type: 'string', enum: ['credential', 'self-asserted'] },
        attestedRegion: { type: ['string', 'null'] }
      }
    },
    expiresAt: { type: 'string' },
    source: { type: 'string', enum: ['self', 'gossip', 'dht', 'sync', 'api'] }
  }
} as const

export function toNodeView (e: RegistryEntry): Record<string, unknown> {
  return {
    peerId: e.end.peerId,
    did: e.end.id,
    region: e.end.region,
    zone: e.end.zone,
    end: e.end,
    endJwt: e.jwt,
    cid: e.cid,
    trust: { level: e.trustLevel, source: e.trustSource, attestedRegion: e.attestedRegion },
    expiresAt: e.end.expiresAt,
    source: e.source
  }
}

export function registryRoutes (registry: () => EndRegistry): ApiRoutes {
  return {
    name: 'registry',
    description: 'Verified Edge-Node Descriptors (END) of the federation',
    errors: { DescriptorNotFoundError: 404, DescriptorRejectedError: 502, CredentialRejectedError: 422 },
    register (app, ctx) {
      app.get<{ Querystring: RegistryFilter }>('/v1/registry/nodes', {
        schema: {
          summary: 'Verified, unexpired node descriptors, filtered',
          operationId: 'listNodes',
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              region: { type: 'string', pattern: '^[a-z0-9-]{1,63}$' },
              minCpu: { type: 'number', minimum: 0, maximum: 4096 },
              minMemoryMb: { type: 'integer', minimum: 0 },
              tee: { type: 'boolean' },
              trust: { type: 'integer', minimum: 0, maximum: 10, description: 'minimum effective trust level' },
              arch: { type: 'string', pattern: '^[a-z0-9_]{1,16}$' }
            }
          },
          response: {
            200: {
              description: 'descriptors',
              type: 'object',
              required: ['nodes'],
              additionalProperties: false,
              properties: { nodes: { type: 'array', items: nodeSchema } }
            }
          }
        }
      }, async (req) => ({ nodes: registry().list(req.query).map(toNodeView) }))

      app.get<{ Params: { peerId: string }, Querystring: { source?: 'cache' | 'dht' } }>('/v1/registry/nodes/:peerId', {
        schema: {
          summary: 'One peer\'s verified descriptor, from the cache or (source=dht) a DHT lookup',
          operationId: 'getNode',
          params: {
            type: 'object',
            required: ['peerId'],
            additionalProperties: false,
            properties: { peerId: { type: 'string', minLength: 1, maxLength: 128 } }
          },
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { source: { type: 'string', enum: ['cache', 'dht'], default: 'cache' } }
          },
          response: {
            200: { description: 'the descriptor', ...nodeSchema },
            404: errorResponse('no verified descriptor (code DESCRIPTOR_NOT_FOUND)'),
            502: errorResponse('the DHT returned a descriptor that failed verification (code DESCRIPTOR_REJECTED)')
          }
        }
      }, async (req, reply) => {
        const entry = await registry().lookup(req.params.peerId, { fromDht: req.query.source === 'dht', signal: ctx.requestSignal(reply, 15_000) })
        return toNodeView(entry)
      })

      app.post<{ Body: { list: string } }>('/v1/registry/revocations', {
        config: { role: 'admin' },
        schema: {
          summary: 'Submit a trust anchor\'s signed revocation list; applied here and gossiped on dcis/revocations/1',
          operationId: 'postRevocations',
          body: {
            type: 'object',
            required: ['list'],
            additionalProperties: false,
            properties: { list: { type: 'string', maxLength: 65536, description: 'the revocation list JWT (dcis credential revoke)' } }
          },
          response: {
            202: {
              description: 'accepted',
              type: 'object',
              required: ['applied'],
              additionalProperties: false,
              properties: { applied: { type: 'boolean', description: 'false when an equal or newer list of this anchor was already held' } }
            },
            422: errorResponse('the list is not from a trust anchor or does not verify (code CREDENTIAL_REJECTED)')
          }
        }
      }, async (req, reply) => {
        const applied = await registry().offerRevocationList(req.body.list)
        if (applied) await registry().gossipRevocationList(req.body.list)
        reply.code(202)
        return { applied }
      })
    }
  }
}
