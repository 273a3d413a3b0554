import assert from 'node:assert/strict'
import { fastGossipMessageId } from '../../src/registry/gossip-id.js'

describe('registry/gossip-id: the fast id (seen-cache check before signature verification)', () => {
  const bytes = (...xs: number[]): Uint8Array => Uint8Array.from(xs)
  const base = { topic: 'dcis/latency/1', from: bytes(1, 2, 3), seqno: bytes(0, 0, 0, 7), key: bytes(9), signature: bytes(4, 5, 6), data: bytes(10, 11, 12) }

  it('is the same for a byte-identical copy only', () => {
    assert.equal(fastGossipMessageId({ ...base }), fastGossipMessageId({ ...base, data: bytes(10, 11, 12) }))
    const variants = [
      { ...base, topic: 'dcis/end/1' },
      { ...base, from: bytes(1, 2, 4) },
      { ...base, seqno: bytes(0, 0, 0, 8) },
      { ...base, key: undefined },
      { ...base, signature: bytes(4, 5, 7) },
      { ...base, data: bytes(10, 11) },
      // the same bytes moved across a field boundary are another message
      { ...base, signature: bytes(4, 5, 6, 10), data: bytes(11, 12) }
    ]
    const ids = new Set([fastGossipMessageId(base), ...variants.map(fastGossipMessageId)])
    assert.equal(ids.size, variants.length + 1)
  })
})
