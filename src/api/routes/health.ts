import { NotReadyError } from '../errors.js'
import { errorResponse } from '../schemas.js'
import type { ApiNode, ApiRoutes } from '../index.js'

const statusSchema = (value: string): Record<string, unknown> => ({
  type: 'object',
  required: ['status'],
  additionalProperties: false,
  properties: { status: { type: 'string', enum: [value] } }
})

/** `GET /healthz` (the process serves) and `GET /readyz` (the node is bootstrapped). */
export function healthRoutes (node: ApiNode): ApiRoutes {
  return {
    name: 'health',
    description: 'Liveness and readiness probes',
    register (app) {
      app.get('/healthz', {
        schema: {
          summary: 'Liveness: 200 while the node process serves requests',
          operationId: 'getHealth',
          response: { 200: { description: 'the node is running', ...statusSchema('ok') } }
        }
      }, async () => ({ status: 'ok' }))

      app.get('/readyz', {
        schema: {
          summary: 'Readiness: 200 once the node has bootstrapped, 503 before',
          operationId: 'getReady',
          response: {
            200: { description: 'the node is bootstrapped', ...statusSchema('ready') },
            503: errorResponse('not bootstrapped yet (code NOT_READY)')
          }
        }
      }, async () => {
        if (!node.isReady()) {
          throw new NotReadyError()
        }
        return { status: 'ready' }
      })
    }
  }
}
