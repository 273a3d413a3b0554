/**
 * HTTP routes of the latency map:
 *
 *   GET /v1/latency                     this peer's coordinate and its view of every known peer
 *   GET /v1/latency/{peerId}?from=ID    one estimate: self -> peerId, or from -> peerId
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { errorResponse } from '../../api/schemas.js'
import { InvalidPeerIdError, LatencyUnknownError } from './errors.js'
import type { LatencyMapView } from './index.js'
import type { LatencyEstimate } from '../estimator.js'
import type { ApiRoutes } from '../../api/index.js'

/** What the routes read from the service. */
export interface LatencyRoutesSource {
  readonly selfId: string
  map (): LatencyMapView
  estimateBetween (a: string, b: string): LatencyEstimate | undefined
}

const nullableNumber = { type: ['number', 'null'] } as const

const coordinateSchema = {
  type: 'object',
  description: 'Vivaldi coordinate (ms): Euclidean part, height, adjustment and relative error',
  required: ['vec', 'height', 'adjustment', 'error'],
  additionalProperties: false,
  properties: {
    vec: { type: 'array', items: { type: 'number' } },
    height: { type: 'number' },
    adjustment: { type: 'number' },
    error: { type: 'number' }
  }
} as const

const peerSchema = {
  type: 'object',
  required: ['peerId', 'rttMs', 'p95Ms', 'estimatedMs', 'modelMs', 'errorMs', 'source', 'confidence', 'connected'],
  additionalProperties: false,
  properties: {
    peerId: { type: 'string' },
    rttMs: { ...nullableNumber, description: 'median of the recent direct pings (ms), null if never pinged' },
    p95Ms: { ...nullableNumber, description: 'p95 of the recent direct pings (ms)' },
    estimatedMs: { ...nullableNumber, description: 'best estimate (ms): a fresh direct median, else the model' },
    modelMs: { ...nullableNumber, description: 'the model\'s own estimate (ms), from coordinates/factors/the peer\'s reverse sample' },
    errorMs: { ...nullableNumber, description: 'error bound of estimatedMs (ms)' },
    source: { type: ['string', 'null'], enum: ['measured', 'estimated', null] },
    confidence: { ...nullableNumber, description: '0..1' },
    connected: { type: 'boolean' },
    relayedRttMs: { type: 'number', description: 'median of the recent pings through a circuit relay (ms); not a direct RTT, never in rttMs or the estimates' }
  }
} as const

const pairSchema = {
  type: 'object',
  required: ['from', 'to', 'ms', 'errorMs', 'source', 'confidence'],
  additionalProperties: false,
  properties: {
    from: { type: 'string' },
    to: { type: 'string' },
    ms: { type: 'number' },
    errorMs: { type: 'number' },
    source: { type: 'string', enum: ['measured', 'estimated'] },
    confidence: { type: 'number' },
    predictor: { type: 'string', enum: ['coord', 'factors', 'reverse'] }
  }
} as const

function checkPeerId (field: string, value: string): string {
  try {
    return peerIdFromString(value).toString()
  } catch {
    throw new InvalidPeerIdError(field, value)
  }
}

export function latencyRoutes (source: LatencyRoutesSource): ApiRoutes {
  return {
    name: 'latency',
    description: 'Live latency map: direct pings, gossiped coordinates and estimates',
    errors: { InvalidPeerIdError: 400, LatencyUnknownError: 404 },
    register (app) {
      app.get('/v1/latency', {
        schema: {
          summary: 'This peer\'s coordinate and its RTT estimate to every peer it knows',
          operationId: 'getLatencyMap',
          response: {
            200: {
              description: 'the latency map as seen from this peer',
              type: 'object',
              required: ['self', 'peers'],
              additionalProperties: false,
              properties: {
                self: {
                  type: 'object',
                  required: ['peerId', 'coordinate'],
                  additionalProperties: false,
                  properties: { peerId: { type: 'string' }, coordinate: coordinateSchema }
                },
                peers: { type: 'array', items: peerSchema }
              }
            }
          }
        }
      }, async () => source.map())

      app.get<{ Params: { peerId: string }, Querystring: { from?: string } }>('/v1/latency/:peerId', {
        schema: {
          summary: 'RTT estimate to a peer from this peer, or from another peer (?from=) by their gossiped states',
          operationId: 'getLatencyPair',
          params: {
            type: 'object',
            required: ['peerId'],
            additionalProperties: false,
            properties: { peerId: { type: 'string', minLength: 1, maxLength: 128 } }
          },
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { from: { type: 'string', minLength: 1, maxLength: 128, description: 'peer id the RTT is measured from (default this peer)' } }
          },
          response: {
            200: { description: 'the estimate', ...pairSchema },
            400: errorResponse('a peer id does not parse (code INVALID_PEER_ID)'),
            404: errorResponse('nothing is known about this pair (code LATENCY_UNKNOWN)')
          }
        }
      }, async (req) => {
        const to = checkPeerId('peerId', req.params.peerId)
        const from = req.query.from === undefined ? source.selfId : checkPeerId('from', req.query.from)
        const e = source.estimateBetween(from, to)
        if (e === undefined) throw new LatencyUnknownError(from, to)
        return { from, to, ms: e.ms, errorMs: e.errorMs, source: e.source, confidence: e.confidence, ...(e.predictor !== undefined ? { predictor: e.predictor } : {}) }
      })
    }
  }
}
