import type { ApiRoutes } from '../index.js'
import type { Registry } from 'prom-client'

/** `GET /metrics`: the node's registry in the Prometheus text exposition format. */
export function metricsRoutes (registry: Registry): ApiRoutes {
  return {
    name: 'metrics',
    description: 'Prometheus metrics',
    register (app) {
      app.get('/metrics', {
        schema: {
          summary: 'Prometheus metrics of this node (text exposition format)',
          operationId: 'getMetrics',
          response: {
            200: {
              description: 'Prometheus text format (version 0.0.4), or OpenMetrics if the registry is set to it',
              content: { 'text/plain': { schema: { type: 'string' } } }
            }
          }
        }
      }, async (_request, reply) => {
        const text = await registry.metrics()
        // a string with a non-JSON content type is sent as-is (not serialized)
        return reply.type(registry.contentType).send(text)
      })
    }
  }
}
