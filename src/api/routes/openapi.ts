import type { ApiRoutes } from '../index.js'

/** `GET /openapi.json`: the OpenAPI 3 document generated from the routes' schemas. */
export function openapiRoutes (): ApiRoutes {
  return {
    name: 'meta',
    description: 'The API description itself',
    register (app) {
      app.get('/openapi.json', {
        schema: {
          summary: 'The OpenAPI 3 document of this API',
          operationId: 'getOpenApi',
          response: { 200: { description: 'OpenAPI 3.0 document', type: 'object', additionalProperties: true } }
        }
      }, async () => app.swagger())
    }
  }
}
