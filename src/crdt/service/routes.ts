import { errorResponse } from '../../api/schemas.js'
import { SERVICE_ERROR_STATUS } from '../../services/errors.js'
import { MAX_LOG_APPEND, MAX_LOG_READ } from './backend.js'
import type { CrdtBackend } from './backend.js'
import { parseCursor } from '../replication/index.js'
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

/** A log cursor that does not parse (`wall.logical.counter.replica`). */
export class InvalidCursorError extends Error {
  static readonly code = 'INVALID_CURSOR'
  readonly code = InvalidCursorError.code
  constructor (cursor: string) {
    super(`not a log cursor: ${JSON.stringify(cursor.slice(0, 80))} (expected wall.logical.counter.replica, as returned by a read)`)
    this.name = 'InvalidCursorError'
  }
}

const logEntry = {
  type: 'object',
  required: ['cursor', 'ts', 'replica', 'value'],
  additionalProperties: false,
  properties: {
    cursor: { type: 'string', description: 'position of this entry: pass it as `after` to resume after it' },
    ts: { type: 'object', required: ['wall', 'logical'], additionalProperties: false, properties: { wall: { type: 'integer' }, logical: { type: 'integer' } }, description: 'HLC of the append (wall = ms since the epoch)' },
    replica: { type: 'string', description: 'peer id of the replica that accepted the append' },
    value: { type: 'string' }
  }
} as const

/**
 * Append-only logs of eventual services (total order by HLC, then replica id):
 *   POST /v1/services/{name}/logs/{key}   {"entries": ["..."]}    append (1..10,000 in order)
 *   GET  /v1/services/{name}/logs/{key}?after=&fromMs=&toMs=&limit=   read a range / resume after a cursor
 */
export function crdtLogRoutes (backend: () => CrdtBackend): ApiRoutes {
  return {
    name: 'crdt-logs',
    description: 'Append-only logs of eventually consistent services',
    errors: { ...SERVICE_ERROR_STATUS, InvalidCursorError: 400 },
    register (app, ctx) {
      const params = { type: 'object', required: ['name', 'key'], additionalProperties: false, properties: { name: nameParam, key: keyParam } } as const
      app.get<{ Params: { name: string, key: string }, Querystring: { after?: string, fromMs?: number, toMs?: number, limit?: number } }>('/v1/services/:name/logs/:key', {
        config: { read: true, target: { kind: 'service', param: 'name' } },
        schema: {
          summary: 'Entries of an append-only log in order (this replica\'s view; empty if never written)',
          operationId: 'readLog',
          params,
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              after: { type: 'string', minLength: 1, maxLength: 320, description: 'a cursor from an earlier read: only entries after it' },
              fromMs: { type: 'integer', minimum: 0, description: 'only entries appended at or after this wall time (ms)' },
              toMs: { type: 'integer', minimum: 0, description: 'only entries appended before this wall time (ms)' },
              limit: { type: 'integer', minimum: 1, maximum: MAX_LOG_READ, description: `at most this many entries (default ${MAX_LOG_READ})` }
            }
          },
          response: {
            200: {
              description: 'entries in the log\'s total order',
              type: 'object',
              required: ['key', 'entries', 'next', 'length'],
              additionalProperties: false,
              properties: {
                key: { type: 'string' },
                entries: { type: 'array', items: logEntry },
                next: { type: ['string', 'null'], description: 'cursor to resume from (the last entry returned, or `after` when none)' },
                length: { type: 'integer', description: 'entries the log holds on the answering replica' }
              }
            },
            400: errorResponse('malformed cursor (INVALID_CURSOR) or query'),
            404: notFound,
            422: errorResponse('the service holds automerge documents (OPERATION_NOT_SUPPORTED)'),
            503: unavailable
          }
        }
      }, async (req, reply) => {
        const q = req.query
        let after
        if (q.after != null) {
          after = parseCursor(q.after)
          if (after == null) throw new InvalidCursorError(q.after)
        }
        const range = { ...(after != null ? { after } : {}), ...(q.fromMs != null ? { fromMs: q.fromMs } : {}), ...(q.toMs != null ? { toMs: q.toMs } : {}), ...(q.limit != null ? { limit: q.limit } : {}) }
        return { key: req.params.key, ...(await backend().readLog(req.params.name, req.params.key, range, { signal: ctx.requestSignal(reply) })) }
      })

      app.post<{ Params: { name: string, key: string }, Body: { entries: string[] } }>('/v1/services/:name/logs/:key', {
        config: { role: 'services', target: { kind: 'service', param: 'name' } },
        schema: {
          summary: 'Append entries to a log (in order; any replica accepts appends)',
          operationId: 'appendLog',
          params,
          body: {
            type: 'object',
            required: ['entries'],
            additionalProperties: false,
            properties: { entries: { type: 'array', minItems: 1, maxItems: MAX_LOG_APPEND, items: { type: 'string', maxLength: 65_536 } } }
          },
          response: {
            200: {
              description: 'appended (on the accepting replica\'s disk)',
              type: 'object',
              required: ['key', 'appended', 'first', 'last', 'length'],
              additionalProperties: false,
              properties: {
                key: { type: 'string' },
                appended: { type: 'integer' },
                first: { type: 'string', description: 'cursor of the first entry appended' },
                last: { type: 'string', description: 'cursor of the last entry appended' },
                length: { type: 'integer', description: 'entries the log holds on the accepting replica' }
              }
            },
            404: notFound,
            422: errorResponse('the service holds automerge documents (OPERATION_NOT_SUPPORTED)'),
            503: unavailable
          }
        }
      }, async (req, reply) => ({ key: req.params.key, ...(await backend().appendLog(req.params.name, req.params.key, req.body.entries, { signal: ctx.requestSignal(reply), token: req.caller?.token })) }))
    }
  }
}
