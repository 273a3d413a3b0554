/**
 * Gossip message ids. On `dcis/end/1` a message is identified by its
 * content (SHA-256 of the descriptor JWT), not by sender + sequence number:
 * a descriptor relayed by several peers that learnt it by sync is one
 * message that every peer forwards and receives once. Every other topic
 * keeps gossipsub's StrictSign id (the sender's key + seqno).
 */
import { createHash } from 'node:crypto'
import { publicKeyToProtobuf } from '@libp2p/crypto/keys'
import type { GossipsubOpts, Message } from '@libp2p/gossipsub'

/** a message as it arrives in an RPC, before any validation */
type RawMessage = Parameters<GossipsubOpts['fastMsgIdFn']>[0]

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

const NO_BYTES = new Uint8Array(0)
const utf8 = new TextEncoder()

/**
 * gossipsub's "fast" id: checked against the seen-cache before a message's
 * signature is verified. gossipsub verifies every copy it receives, and an
 * idle peer receives each message from several mesh neighbours; at 50 peers
 * the Ed25519 verifications (and the key objects made for them) were 13 % of
 * a peer's CPU (docs/performance.md). The id is SHA-256 over every field of
 * the raw message, each length-prefixed: only a byte-identical copy matches,
 * so a message cannot be suppressed by an unsigned look-alike sent first.
 * Copies that differ (an END relayed by another peer) still go through
 * verification and the content id above.
 */
export function fastGossipMessageId (msg: RawMessage): string {
  const h = createHash('sha256')
  const len = new DataView(new ArrayBuffer(4))
  for (const part of [utf8.encode(msg.topic), msg.from, msg.seqno, msg.key, msg.signature, msg.data]) {
    const bytes = part ?? NO_BYTES
    len.setUint32(0, bytes.byteLength)
    h.update(new Uint8Array(len.buffer))
    h.update(bytes)
  }
  return h.digest('base64')
}
