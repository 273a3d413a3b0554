/**
 * `GET /v1/catalogue`: this peer's copy of the federation catalogue —
 * functions (current version, versions), applied manifests, the record
 * count and a fingerprint (equal on two peers = the same catalogue).
 */
import type { ApiRoutes } from '../api/index.js'
import type { Catalogue } from './index.js'

export function catalogueRoutes (catalogue: () => Catalogue): ApiRoutes {
  return {
    name: 'catalogue',
    description: 'The federation-wide catalogue of functions and applied manifests (replicated to every peer)',
    // (the table is shared by every route: a record a caller's input would make invalid is their mistake)
    errors: { CatalogueRecordError: 400, CatalogueNotStartedError: 503, CatalogueStorageError: 500 },
    register (app) {
      app.get('/v1/catalogue', {
        schema: {
          summary: 'This peer\'s copy of the federation catalogue: functions, manifests, a fingerprint to compare peers',
          operationId: 'getCatalogue',
          response: {
            200: {
              description: 'the catalogue',
              type: 'object',
              additionalProperties: false,
              required: ['peerId', 'records', 'fingerprint', 'functions', 'manifests'],
              properties: {
                peerId: { type: 'string' },
                records: { type: 'integer' },
                fingerprint: { type: 'string', description: 'sha-256 of the whole CRDT state' },
                functions: {
                  type: 'array',
                  items: {
                    type: 'object',
                    additionalProperties: false,
                    required: ['name', 'current', 'versions'],
                    properties: {
                      name: { type: 'string' },
                      current: { type: 'string' },
                      versions: {
                        type: 'array',
                        items: {
                          type: 'object',
                          additionalProperties: false,
                          required: ['version', 'cid', 'abi', 'deployedAt', 'deployedBy', 'knownGood'],
                          properties: { version: { type: 'integer' }, cid: { type: 'string' }, abi: { type: 'string' }, deployedAt: { type: 'string' }, deployedBy: { type: 'string' }, knownGood: { type: 'boolean' } }
                        }
                      }
                    }
                  }
                },
                manifests: {
                  type: 'array',
                  items: {
                    type: 'object',
                    additionalProperties: false,
                    required: ['kind', 'name', 'spec', 'appliedAt', 'appliedBy'],
                    properties: {
                      kind: { type: 'string' },
                      name: { type: 'string' },
                      labels: { type: 'object', additionalProperties: { type: 'string' } },
                      spec: { type: 'object', additionalProperties: true },
                      appliedAt: { type: 'string' },
                      appliedBy: { type: 'string' }
                    }
                  }
                }
              }
            }
          }
        }
      }, async () => {
        const c = catalogue()
        return {
          peerId: c.peerId,
          records: c.size(),
          fingerprint: c.fingerprint(),
          functions: c.functions().map(f => ({
            name: f.name,
            current: f.current,
            versions: f.versions.map(v => ({ version: v.version, cid: v.cid, abi: v.abi, deployedAt: v.deployedAt, deployedBy: v.deployedBy, knownGood: v.knownGood }))
          })),
          manifests: c.manifests().map(m => ({ kind: m.kind, name: m.name, ...(m.labels != null ? { labels: m.labels } : {}), spec: m.spec, appliedAt: m.appliedAt, appliedBy: m.appliedBy }))
        }
      })
    }
  }
}
