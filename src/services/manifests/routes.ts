import { errorResponse } from '../../api/schemas.js'
import { ForbiddenError } from '../../api/auth.js'
import { parseManifests, MAX_MANIFEST_BYTES } from './parse.js'
import type { ManifestDispatcher } from './dispatcher.js'
import type { ApiRoutes } from '../../api/index.js'

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml']

/** `POST /v1/manifests`: apply one or more manifests (YAML or JSON). */
export function manifestRoutes (dispatcher: () => ManifestDispatcher): ApiRoutes {
  return {
    name: 'manifests',
    description: 'Declarative manifests (apiVersion edge/v1): EdgeStatefulService, Function, HealthCheck',
    errors: { ManifestError: 400, KindNotSupportedError: 422 },
    register (app, ctx) {
      for (const type of YAML_TYPES) {
        if (!app.hasContentTypeParser(type)) {
          app.addContentTypeParser(type, { parseAs: 'string', bodyLimit: MAX_MANIFEST_BYTES }, (_req, body, done) => { done(null, body) })
        }
      }
      app.post<{ Body: unknown }>('/v1/manifests', {
        // authenticated here, authorized per manifest kind in the handler
        config: { role: 'per-request' },
        bodyLimit: MAX_MANIFEST_BYTES,
        schema: {
          summary: 'Apply manifests: a YAML body (one or more --- documents) or JSON (an object or an array)',
          operationId: 'applyManifests',
          consumes: ['application/yaml', 'application/json'],
          response: {
            201: {
              description: 'applied, in order',
              type: 'object',
              required: ['applied'],
              additionalProperties: false,
              properties: {
                applied: {
                  type: 'array',
                  items: {
                    type: 'object',
                    required: ['kind', 'name', 'result'],
                    additionalProperties: false,
                    properties: { kind: { type: 'string' }, name: { type: 'string' }, result: { type: 'object', additionalProperties: true } }
                  }
                }
              }
            },
            400: errorResponse('the manifest does not parse or validate; the message names the field (code INVALID_MANIFEST)'),
            422: errorResponse('valid, but this peer has no backend for it (code KIND_NOT_SUPPORTED)')
          }
        }
      }, async (req, reply) => {
        const type = String(req.headers['content-type'] ?? 'application/yaml').toLowerCase()
        const raw = typeof req.body === 'string' ? req.body : JSON.stringify(req.body)
        const manifests = parseManifests(raw, type.includes('json') ? 'application/json' : 'application/yaml')
        const caller = req.caller
        if (caller != null) {
          for (const m of manifests) {
            const role = dispatcher().roleFor(m.kind)
            if (!caller.roles.has('admin') && !caller.roles.has(role)) throw new ForbiddenError(`${caller.did} does not hold the ${role} role needed for ${m.kind}`)
          }
        }
        const applied = await dispatcher().apply(manifests, { signal: ctx.requestSignal(reply), token: caller?.token })
        reply.code(201)
        return { applied }
      })
    }
  }
}
