import { NODE_INFO_ID, PEER_ID } from '../schemas.js'
import type { ApiNode, ApiRoutes } from '../index.js'

/** `GET /v1/node` and `GET /v1/peers`. */
export function nodeRoutes (node: ApiNode): ApiRoutes {
  return {
    name: 'node',
    description: 'This peer and its connections',
    register (app, context) {
      app.get('/v1/node', {
        schema: {
          summary: 'This peer: ids, addresses, location and its signed END descriptor',
          operationId: 'getNodeInfo',
          response: { 200: { description: 'this peer', $ref: `${NODE_INFO_ID}#` } }
        }
      }, async () => node.info())

      app.get('/v1/peers', {
        schema: {
          summary: 'Peers this node is connected to',
          operationId: 'listPeers',
          response: {
            200: {
              description: 'connected peers',
              type: 'object',
              required: ['peers'],
              additionalProperties: false,
              properties: { peers: { type: 'array', items: { $ref: `${PEER_ID}#` } } }
            }
          }
        }
      }, async (_request, reply) => {
        const peers = await node.peers({ signal: context.requestSignal(reply) })
        return { peers }
      })
    }
  }
}
