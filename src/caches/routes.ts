import { errorResponse } from '../api/schemas.js'
import { CACHE_ERROR_STATUS } from './errors.js'
import type { CacheService } from './service.js'
import type { ApiRoutes } from '../api/index.js'

/**
 *   GET /v1/caches/{name}/{key}   the value, read through the edge cache
 *   (x-dcis-cache: hit | miss | stale, x-dcis-origin-region)
 */
export function cacheRoutes (caches: () => CacheService): ApiRoutes {
  return {
    name: 'caches',
    description: 'Read-through edge caches of HTTP backends',
    errors: CACHE_ERROR_STATUS,
    register (app, ctx) {
      app.get<{ Params: { name: string, key: string } }>('/v1/caches/:name/:key', {
        schema: {
          summary: 'Read a key through an edge cache (the backend on a miss)',
          operationId: 'getCacheEntry',
          params: {
            type: 'object',
            required: ['name', 'key'],
            additionalProperties: false,
            properties: { name: { type: 'string', pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' }, key: { type: 'string', minLength: 1, maxLength: 1024 } }
          },
          response: {
            200: { description: 'the value with the backend\'s content type; headers x-dcis-cache (hit, miss, stale) and x-dcis-origin-region' },
            403: errorResponse('this peer or the data\'s region is outside the cache\'s regions (REGION_DENIED)'),
            404: errorResponse('no such cache (CACHE_NOT_FOUND) or key (KEY_NOT_FOUND)'),
            502: errorResponse('the backend failed and no stale entry may be served (CACHE_BACKEND_UNAVAILABLE)')
          }
        }
      }, async (req, reply) => {
        const r = await caches().get(req.params.name, req.params.key, { signal: ctx.requestSignal(reply) })
        return reply.header('content-type', r.contentType).header('x-dcis-cache', r.outcome).header('x-dcis-origin-region', r.originRegion ?? '').send(Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength))
      })
    }
  }
}
