/**
 * JSON schemas shared by the core routes. Shared schemas carry an `$id`; they
 * are added to the server once (`addSchema`) and referenced as `{ $ref:
 * 'Name#' }`, so they appear once in the OpenAPI document under
 * `components.schemas`. Capabilities may reference `ErrorEnvelope#` too.
 */

export const ERROR_ENVELOPE_ID = 'ErrorEnvelope'

export const errorEnvelopeSchema = {
  $id: ERROR_ENVELOPE_ID,
  type: 'object',
  description: 'Every error reply: a stable machine-readable code and a human-readable message.',
  required: ['error'],
  additionalProperties: false,
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      additionalProperties: false,
      properties: {
        code: { type: 'string', description: 'UPPER_SNAKE error code, e.g. BAD_REQUEST, NOT_FOUND, KEY_NOT_FOUND' },
        message: { type: 'string' }
      }
    }
  }
} as const

/** `{ $ref }` to the error envelope, with the description OpenAPI requires of a response. */
export function errorResponse (description: string): { description: string, $ref: string } {
  return { description, $ref: `${ERROR_ENVELOPE_ID}#` }
}

export const NODE_INFO_ID = 'NodeInfo'

export const nodeInfoSchema = {
  $id: NODE_INFO_ID,
  type: 'object',
  required: ['peerId', 'did', 'multiaddrs', 'region', 'zone', 'end', 'endJwt'],
  additionalProperties: false,
  properties: {
    peerId: { type: 'string', description: 'libp2p peer id (base58btc)' },
    did: { type: 'string', description: 'the node\'s did:key' },
    multiaddrs: { type: 'array', items: { type: 'string' }, description: 'addresses this peer announces' },
    region: { type: 'string' },
    zone: { type: 'string' },
    end: { type: ['object', 'null'], additionalProperties: true, description: 'the decoded END descriptor, or null before the first one is signed' },
    endJwt: { type: ['string', 'null'], description: 'the END as a VC-JWT (compact JWS), or null' }
  }
} as const

export const PEER_ID = 'Peer'

export const peerSchema = {
  $id: PEER_ID,
  type: 'object',
  required: ['peerId', 'multiaddrs', 'rttMs', 'region'],
  additionalProperties: false,
  properties: {
    peerId: { type: 'string' },
    multiaddrs: { type: 'array', items: { type: 'string' } },
    rttMs: { type: ['number', 'null'], description: 'last measured round-trip time, null if never measured' },
    region: { type: ['string', 'null'], description: 'region from the peer\'s verified END, null if unknown' }
  }
} as const

/** Every shared schema, in the order they are added to the server. */
export const SHARED_SCHEMAS = [errorEnvelopeSchema, nodeInfoSchema, peerSchema] as const
