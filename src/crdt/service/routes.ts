import { errorResponse } from '../../api/schemas.js'
import { SERVICE_ERROR_STATUS } from '../../services/errors.js'
import type { CrdtBackend } from './backend.js'
import type { ApiRoutes } from '../../api/index.js'

const nameParam = { type: 'string', pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' } as const
const keyParam = { type: 'string', minLength: 1, maxLength: 512, pattern: '^[^\\u0000]', description: 'any text not starting with NUL (reserved for provenance records)' } as const
const memberSchema = { type: 'string', minLength: 1, maxLength: 4096 } as const
const membersResponse = {
  type: 'object',
  required: ['key', 'members'],
  additionalProperties: false,
  properties: { key: { type: 'string' }, members: { type: 'array', items: { type: 'string' }, description: 'sorted members of the add-wins set' } }
} as const
const notFound = errorResponse('no such service (SERVICE_NOT_FOUND)')
const unavailable = errorResponse('no replica answered (SERVICE_UNAVAILABLE)')

/**
 * Sets of eventual services (add-wins ORSets: a concurrent add beats a remove):
 *   GET    /v1/services/{name}/sets/{key}                    members
 *   POST   /v1/services/{name}/sets/{key}   {"member": "x"}  add
 *   DELETE /v1/services/{name}/sets/{key}/members/{member}   remove
 */
export function crdtSetRoutes (backend: () => CrdtBackend): ApiRoutes {
  return {
    name: 'crdt-sets',
    description: 'Sets of eventually consistent services (add-wins)',
    errors: SERVICE_ERROR_STATUS,
    register (app, ctx) {
      const params = { type: 'object', required: ['name', 'key'], additionalProperties: false, properties: { name: nameParam, key: keyParam } } as const
      app.get<{ Params: { name: string, key: string } }>('/v1/services/:name/sets/:key', {
        config: { read: true, target: { kind: 'service', param: 'name' } },
        schema: {
          summary: 'Members of a set (empty if never written)',
          operationId: 'getSetMembers',
          params,
          response: { 200: { description: 'members', ...membersResponse }, 404: notFound, 503: unavailable }
        }
      }, async (req, reply) => ({ key: req.params.key, ...(await backend().members(req.params.name, req.params.key, { signal: ctx.requestSignal(reply), token: req.caller?.token })) }))

      app.post<{ Params: { name: string, key: string }, Body: { member: string } }>('/v1/services/:name/sets/:key', {
        config: { role: 'services', target: { kind: 'service', param: 'name' } },
        schema: {
          summary: 'Add a member to a set',
          operationId: 'addSetMember',
          params,
          body: { type: 'object', required: ['member'], additionalProperties: false, properties: { member: memberSchema } },
          response: { 200: { description: 'members after the add (this replica\'s view)', ...membersResponse }, 404: notFound, 503: unavailable }
        }
      }, async (req, reply) => ({ key: req.params.key, ...(await backend().addMember(req.params.name, req.params.key, req.body.member, { signal: ctx.requestSignal(reply), token: req.caller?.token })) }))

      app.delete<{ Params: { name: string, key: string, member: string } }>('/v1/services/:name/sets/:key/members/:member', {
        config: { role: 'services', target: { kind: 'service', param: 'name' } },
        schema: {
          summary: 'Remove a member from a set (the adds this replica has seen)',
          operationId: 'removeSetMember',
          params: { type: 'object', required: ['name', 'key', 'member'], additionalProperties: false, properties: { name: nameParam, key: keyParam, member: memberSchema } },
          response: { 200: { description: 'members after the remove (this replica\'s view)', ...membersResponse }, 404: notFound, 503: unavailable }
        }
      }, async (req, reply) => ({ key: req.params.key, ...(await backend().removeMember(req.params.name, req.params.key, req.params.member, { signal: ctx.requestSignal(reply), token: req.caller?.token })) }))
    }
  }
}
