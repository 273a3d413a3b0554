import { errorResponse } from '../api/schemas.js'
import { SINK_ERROR_STATUS } from './errors.js'
import type { SinkService } from './service.js'
import type { ApiRoutes } from '../api/index.js'

/**
 *   GET /v1/sinks/{name}   spec and on-disk buffer of a sink on this peer
 */
export function sinkRoutes (sinks: () => SinkService): ApiRoutes {
  return {
    name: 'sinks',
    description: 'Core sinks: snapshots and emitted records shipped to a core',
    errors: SINK_ERROR_STATUS,
    register (app) {
      app.get<{ Params: { name: string } }>('/v1/sinks/:name', {
        schema: {
          summary: 'A sink\'s spec and this peer\'s buffer',
          operationId: 'getSink',
          params: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: { type: 'string', pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' } } },
          response: {
            200: {
              description: 'the sink',
              type: 'object',
              required: ['name', 'spec', 'bufferedBytes', 'bufferedBatches'],
              properties: { name: { type: 'string' }, spec: { type: 'object', additionalProperties: true }, bufferedBytes: { type: 'integer' }, bufferedBatches: { type: 'integer' } }
            },
            404: errorResponse('no such sink (SINK_NOT_FOUND)')
          }
        }
      }, async (req) => sinks().status(req.params.name))
    }
  }
}
