import assert from 'node:assert/strict'
import { memoizeProtocolMerges } from '../../src/node/peer-store-memo.js'
import { bareNode } from '../helpers/libp2p.js'
import type { PeerStore } from '@libp2p/interface'

const ECHO = '/test/echo/1.0.0'

/** counts the peer store's datastore writes (the unwrapped merge's put) */
function countMerges (store: PeerStore): { merges: number, writes: () => number } {
  const counter = { merges: 0, writes: () => counter.merges }
  const inner = store.merge.bind(store)
  store.merge = async (...args) => { counter.merges++; return await inner(...args) }
  return counter
}

describe('node/peer-store-memo', function () {
  this.timeout(20_000)

  it('streams of a protocol already on record do not write the peer store again; a new protocol, a refresh and other writes do', async () => {
    const a = await bareNode()
    const b = await bareNode()
    await b.handle(ECHO, async (stream) => { await stream.close() })
    await b.handle('/test/other/1.0.0', async (stream) => { await stream.close() })
    // the real merge, counted underneath the memo
    const counted = countMerges(a.peerStore)
    let clock = 1_000_000
    const unwrap = memoizeProtocolMerges(a, { refreshMs: 60_000, now: () => clock })
    try {
      const conn = await a.dial(b.getMultiaddrs()[0])
      const open = async (protocol: string): Promise<void> => {
        const s = await conn.newStream(protocol)
        await s.close()
      }
      await open(ECHO)
      const afterFirst = counted.writes()
      assert.ok(afterFirst >= 1, 'the first stream of a protocol is recorded')
      for (let i = 0; i < 10; i++) await open(ECHO)
      assert.equal(counted.writes(), afterFirst, 'repeated streams of a known protocol are not written')
      assert.ok((await a.peerStore.get(b.peerId)).protocols.includes(ECHO))

      // a protocol not on record is written (and then remembered)
      await open('/test/other/1.0.0')
      assert.equal(counted.writes(), afterFirst + 1)
      await open('/test/other/1.0.0')
      assert.equal(counted.writes(), afterFirst + 1)

      // merges that carry more than protocols always go through
      await a.peerStore.merge(b.peerId, { tags: { x: { value: 1 } } })
      assert.equal(counted.writes(), afterFirst + 2)

      // after refreshMs the record's stamp is written again once
      clock += 61_000
      await open(ECHO)
      await open(ECHO)
      assert.equal(counted.writes(), afterFirst + 3)

      // a protocol removed from the record (e.g. by identify) is written again when seen
      await a.peerStore.patch(b.peerId, { protocols: ['/test/other/1.0.0'] })
      const beforeReAdd = counted.writes()
      await open(ECHO)
      assert.equal(counted.writes(), beforeReAdd + 1)
      assert.ok((await a.peerStore.get(b.peerId)).protocols.includes(ECHO))
    } finally {
      unwrap()
      await a.stop()
      await b.stop()
    }
  })

  it('this peer\'s own record is never memoised, and unwrapping restores the store', async () => {
    const a = await bareNode()
    try {
      const counted = countMerges(a.peerStore)
      const wrapped = a.peerStore.merge
      const unwrap = memoizeProtocolMerges(a)
      await a.peerStore.merge(a.peerId, { protocols: ['/x/1'] })
      await a.peerStore.merge(a.peerId, { protocols: ['/x/1'] })
      assert.equal(counted.writes(), 2)
      unwrap()
      assert.equal(a.peerStore.merge, wrapped)
    } finally {
      await a.stop()
    }
  })
})
