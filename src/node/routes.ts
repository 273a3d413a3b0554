import { json } from '@helia/json'
import { peerIdFromString } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import { code as JSON_CODEC } from 'multiformats/codecs/json'
import { errorResponse } from '../api/schemas.js'
import { BlockNotFoundError, InvalidIdentifierError, PeerNotFoundError } from './errors.js'
import { RESERVED_TOPIC_PREFIX, TOPIC_PATTERN } from './pubsub-inbox.js'
import type { PubsubInbox } from './pubsub-inbox.js'
import type { ApiRoutes } from '../api/index.js'
import type { HeliaOnLibp2p } from '../storage/index.js'
import type { MeshLibp2p } from './libp2p.js'
import type { PeerId } from '@libp2p/interface'

export interface MeshRoutesComponents {
  libp2p: () => MeshLibp2p
  helia: () => HeliaOnLibp2p
  inbox: () => PubsubInbox
}

function parsePeerId (value: string): PeerId {
  try {
    return peerIdFromString(value)
  } catch {
    throw new InvalidIdentifierError('peerId', value, 'is not a libp2p peer id')
  }
}

function parseCid (value: string): CID {
  try {
    return CID.parse(value)
  } catch {
    throw new InvalidIdentifierError('cid', value, 'is not a CID')
  }
}

/** what a DHT or bitswap lookup throws when it found nothing in time */
function notFoundInTime (err: unknown): boolean {
  const name = (err as Error).name
  // helia 7 reports every retriever giving up (bitswap's want aborted at the deadline) as LoadBlockFailedError
  return name === 'NotFoundError' || name === 'AbortError' || name === 'TimeoutError' || name === 'LoadBlockFailedError'
}

function checkTopic (topic: string): void {
  if (!TOPIC_PATTERN.test(topic)) throw new InvalidIdentifierError('topic', topic, `must match ${TOPIC_PATTERN.source}`)
  if (topic.startsWith(RESERVED_TOPIC_PREFIX)) throw new InvalidIdentifierError('topic', topic, `is reserved: topics under ${RESERVED_TOPIC_PREFIX} belong to the mesh protocols`)
}

const peerIdParam = {
  type: 'object',
  required: ['peerId'],
  additionalProperties: false,
  properties: { peerId: { type: 'string', minLength: 1, maxLength: 128 } }
} as const

const cidParam = {
  type: 'object',
  required: ['cid'],
  additionalProperties: false,
  properties: { cid: { type: 'string', minLength: 1, maxLength: 256 } }
} as const

const topicParam = {
  type: 'object',
  required: ['topic'],
  additionalProperties: false,
  properties: { topic: { type: 'string', minLength: 1, maxLength: 128, description: 'URL-encoded topic; names under dcis/ are reserved' } }
} as const

const badId = errorResponse('the peer id, CID or topic does not parse (code INVALID_IDENTIFIER)')

/**
 * Mesh diagnostics an operator uses to check a federation from any peer:
 * look a peer up in the DHT, put and fetch a JSON block through helia
 * (bitswap across peers), and publish/read gossip on user topics.
 */
export function meshRoutes (c: MeshRoutesComponents): ApiRoutes {
  return {
    name: 'mesh',
    description: 'Mesh diagnostics: DHT peer lookup, content-addressed JSON blocks, user gossip topics',
    errors: {
      PeerNotFoundError: 404,
      BlockNotFoundError: 404,
      InvalidIdentifierError: 400
    },
    register (app, ctx) {
      app.get<{ Params: { peerId: string } }>('/v1/dht/peers/:peerId', {
        schema: {
          summary: 'Find a peer\'s addresses through the DHT (/dcis/kad/1.0.0)',
          operationId: 'findPeer',
          params: peerIdParam,
          response: {
            200: {
              description: 'the peer and its addresses',
              type: 'object',
              required: ['peerId', 'multiaddrs'],
              additionalProperties: false,
              properties: { peerId: { type: 'string' }, multiaddrs: { type: 'array', items: { type: 'string' } } }
            },
            400: badId,
            404: errorResponse('not found in the DHT (code PEER_NOT_FOUND)')
          }
        }
      }, async (req, reply) => {
        const peerId = parsePeerId(req.params.peerId)
        try {
          const info = await c.libp2p().peerRouting.findPeer(peerId, { signal: ctx.requestSignal(reply, 15_000) })
          return { peerId: info.id.toString(), multiaddrs: info.multiaddrs.map(String) }
        } catch (err) {
          if (notFoundInTime(err)) throw new PeerNotFoundError(peerId.toString())
          throw err
        }
      })

      app.post<{ Body: unknown }>('/v1/blocks', {
        schema: {
          summary: 'Store a JSON value as a block (json codec); returns its CID',
          operationId: 'putBlock',
          body: { description: 'any JSON value' },
          response: {
            201: {
              description: 'stored',
              type: 'object',
              required: ['cid'],
              additionalProperties: false,
              properties: { cid: { type: 'string' } }
            }
          }
        }
      }, async (req, reply) => {
        const cid = await json(c.helia()).add(req.body, { signal: ctx.requestSignal(reply) })
        reply.code(201)
        return { cid: cid.toString() }
      })

      app.get<{ Params: { cid: string }, Querystring: { timeoutMs?: number } }>('/v1/blocks/:cid', {
        schema: {
          summary: 'Fetch a JSON block by CID, from this peer or over bitswap from connected peers',
          operationId: 'getBlock',
          params: cidParam,
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { timeoutMs: { type: 'integer', minimum: 1, maximum: 60000, default: 10000 } }
          },
          response: {
            200: {
              description: 'the block\'s JSON value',
              type: 'object',
              required: ['cid', 'value'],
              additionalProperties: false,
              properties: { cid: { type: 'string' }, value: {} }
            },
            400: badId,
            404: errorResponse('not found in time (code BLOCK_NOT_FOUND)')
          }
        }
      }, async (req, reply) => {
        const cid = parseCid(req.params.cid)
        if (cid.code !== JSON_CODEC) throw new InvalidIdentifierError('cid', req.params.cid, 'is not the CID of a JSON block (codec 0x0200)')
        try {
          const value = await json(c.helia()).get(cid, { signal: ctx.requestSignal(reply, req.query.timeoutMs ?? 10_000) })
          return { cid: cid.toString(), value }
        } catch (err) {
          if (notFoundInTime(err)) throw new BlockNotFoundError(cid.toString())
          throw err
        }
      })

      app.put<{ Params: { topic: string } }>('/v1/pubsub/:topic', {
        schema: {
          summary: 'Subscribe this peer to a user gossip topic and keep its recent messages',
          operationId: 'subscribeTopic',
          params: topicParam,
          body: { type: 'object', additionalProperties: false, properties: {}, description: 'empty object {}' },
          response: {
            200: {
              description: 'subscribed',
              type: 'object',
              required: ['topic'],
              additionalProperties: false,
              properties: { topic: { type: 'string' } }
            },
            400: badId,
            429: errorResponse('too many subscribed topics (code TOO_MANY_TOPICS)')
          }
        }
      }, async (req, reply) => {
        checkTopic(req.params.topic)
        if (!c.inbox().subscribe(req.params.topic)) {
          return reply.code(429).send({ error: { code: 'TOO_MANY_TOPICS', message: 'this peer already follows the maximum number of user topics' } })
        }
        return { topic: req.params.topic }
      })

      app.post<{ Params: { topic: string }, Body: { data: string } }>('/v1/pubsub/:topic', {
        schema: {
          summary: 'Publish a message on a user gossip topic (signed by this peer)',
          operationId: 'publishTopic',
          params: topicParam,
          body: {
            type: 'object',
            required: ['data'],
            additionalProperties: false,
            properties: { data: { type: 'string', maxLength: 65536 } }
          },
          response: {
            202: {
              description: 'published',
              type: 'object',
              required: ['topic', 'recipients'],
              additionalProperties: false,
              properties: { topic: { type: 'string' }, recipients: { type: 'integer', description: 'peers the message was sent to directly' } }
            },
            400: badId
          }
        }
      }, async (req, reply) => {
        checkTopic(req.params.topic)
        const recipients = await c.inbox().publish(req.params.topic, req.body.data)
        reply.code(202)
        return { topic: req.params.topic, recipients }
      })

      app.get<{ Params: { topic: string } }>('/v1/pubsub/:topic', {
        schema: {
          summary: 'Recent messages received on a subscribed user topic (oldest first)',
          operationId: 'getTopicMessages',
          params: topicParam,
          response: {
            200: {
              description: 'messages',
              type: 'object',
              required: ['topic', 'messages'],
              additionalProperties: false,
              properties: {
                topic: { type: 'string' },
                messages: {
                  type: 'array',
                  items: {
                    type: 'object',
                    required: ['from', 'data', 'sequenceNumber', 'receivedAt'],
                    additionalProperties: false,
                    properties: {
                      from: { type: 'string' },
                      data: { type: 'string' },
                      sequenceNumber: { type: 'string' },
                      receivedAt: { type: 'integer', description: 'ms since the epoch' }
                    }
                  }
                }
              }
            },
            400: badId,
            404: errorResponse('not subscribed to this topic (code TOPIC_NOT_SUBSCRIBED)')
          }
        }
      }, async (req, reply) => {
        checkTopic(req.params.topic)
        const messages = c.inbox().messages(req.params.topic)
        if (messages == null) {
          return reply.code(404).send({ error: { code: 'TOPIC_NOT_SUBSCRIBED', message: `not subscribed to ${req.params.topic}; PUT /v1/pubsub/{topic} first` } })
        }
        return { topic: req.params.topic, messages: messages.map(({ topic: _t, ...m }) => m) }
      })
    }
  }
}
