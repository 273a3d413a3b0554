/**
 * Gossip message ids. On `dcis/end/1` a message is identified by its
 * content (SHA-256 of the descriptor JWT), not by sender + sequence number:
 * a descriptor relayed by several peers that learnt it by sync is one
 * message that every peer forwards and receives once. Every other topic
 * keeps gossipsub's StrictSign id (the sender's key + seqno).
 */
import { createHash } from 'node:crypto'
import { publicKeyToProtobuf } from '@libp2p/crypto/keys'
import type { Message } from '@libp2p/gossipsub'

export const END_TOPIC = 'dcis/end/1'

export function gossipMessageId (msg: Message): Uint8Array {
  if (msg.topic === END_TOPIC) return createHash('sha256').update(msg.data).digest()
  if (msg.type !== 'signed') throw new Error('expected a signed message')
  const key = publicKeyToProtobuf(msg.key)
  const id = new Uint8Array(key.byteLength + 8)
  id.set(key, 0)
  new DataView(id.buffer).setBigUint64(key.byteLength, msg.sequenceNumber)
  return id
}
