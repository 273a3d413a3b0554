import type { ApiRoutes } from '../api/index.js'
import type { NatView } from './nat.js'

const strings = { type: 'array', items: { type: 'string' } } as const
const nullableInt = { type: ['integer', 'null'] } as const

/** `GET /v1/nat`: this peer's NAT traversal state (docs/nat.md). */
export function natRoutes (view: () => NatView): ApiRoutes {
  return {
    name: 'nat',
    description: 'NAT traversal: reachability, relay reservations, relayed vs direct connections, the relay server',
    errors: {},
    register (app) {
      app.get('/v1/nat', {
        schema: {
          summary: 'This peer\'s reachability, relay reservations and connection kinds',
          operationId: 'getNat',
          response: {
            200: {
              description: 'NAT traversal state',
              type: 'object',
              additionalProperties: false,
              required: ['configured', 'reachability', 'reservations', 'wantedReservations', 'connections', 'upgradedToDirect', 'relayedConnectionsOpened', 'relayedPeersRefreshed', 'relayServer', 'events'],
              properties: {
                configured: { type: 'string', enum: ['auto', 'public', 'private'] },
                reachability: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['status', 'relays'],
                  properties: { status: { type: 'string', enum: ['public', 'relayed', 'unknown'] }, relays: strings, relay: { type: 'boolean' } }
                },
                reservations: { ...strings, description: 'relay peers this peer holds a reservation on' },
                wantedReservations: { type: 'integer' },
                connections: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['direct', 'relayed'],
                  properties: { direct: { type: 'integer' }, relayed: { type: 'integer' } }
                },
                upgradedToDirect: { type: 'integer', description: 'relayed connections followed by a direct one to the same peer (DCUtR or a direct dial)' },
                relayedConnectionsOpened: { type: 'integer', description: 'relayed connections opened since start, both directions (each one is a circuit on a relay)' },
                relayedPeersRefreshed: { type: 'integer', description: 'times the peer store\'s addresses of a relayed peer were set to those of its END (a relay went away)' },
                relayServer: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['enabled', 'reservations', 'circuitsAdmitted', 'circuitsRefused'],
                  properties: { enabled: { type: 'boolean' }, reservations: nullableInt, circuitsAdmitted: nullableInt, circuitsRefused: nullableInt }
                },
                events: {
                  type: 'array',
                  items: {
                    type: 'object',
                    additionalProperties: false,
                    required: ['at', 'kind', 'peer'],
                    properties: { at: { type: 'integer' }, kind: { type: 'string', enum: ['reserved', 'lost', 'upgraded'] }, peer: { type: 'string' } }
                  }
                }
              }
            }
          }
        }
      }, async () => view())
    }
  }
}
