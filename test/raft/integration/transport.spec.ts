/** The libp2p Raft transport between two real peers: multiplexing, bounded queues, membership, unreachable peers. */
import assert from 'node:assert/strict'
import { makeMessage, MessageType } from '../../../src/raft/core/index.js'
import type { Message } from '../../../src/raft/core/index.js'
import { createRaftTransport } from '../../../src/raft/transport/index.js'
import { waitFor } from '../../helpers/wait.js'
import { removeDir, silent, startLibp2p, startTestPeer, stopTestPeer } from './helpers.js'
import type { TestPeer } from './helpers.js'
import { generateKeyPair } from '@libp2p/crypto/keys'

describe('raft transport over libp2p', function () {
  this.timeout(20_000)
  const book = new Map<string, string[]>()
  let a: TestPeer
  let b: TestPeer

  beforeEach(async () => {
    a = await startTestPeer(book)
    b = await startTestPeer(book)
  })
  afterEach(async () => {
    for (const p of [a, b]) { await stopTestPeer(p); await removeDir(p.dir) }
  })

  it('multiplexes groups on one stream and delivers only to groups the sender belongs to', async () => {
    const got: Record<string, Message[]> = { g1: [], g2: [], g3: [] }
    b.transport.register('g1', { isMember: p => p === a.id, deliver: m => { got.g1.push(m) } })
    b.transport.register('g2', { isMember: p => p === a.id, deliver: m => { got.g2.push(m) } })
    b.transport.register('g3', { isMember: () => false, deliver: m => { got.g3.push(m) } })
    for (let i = 1; i <= 20; i++) {
      for (const g of ['g1', 'g2', 'g3', 'nope']) a.transport.send(g, makeMessage({ type: MessageType.MsgHeartbeat, from: a.id, to: b.id, term: i }))
    }
    await waitFor('delivery', () => got.g1.length === 20 && got.g2.length === 20 && b.transport.stats.rejected === 40, { timeoutMs: 5000, intervalMs: 10 })
    assert.deepEqual(got.g1.map(m => m.term), Array.from({ length: 20 }, (_, i) => i + 1), 'in order')
    assert.equal(got.g3.length, 0)
    const conns = a.libp2p.getConnections(b.libp2p.peerId)
    assert.equal(conns.length, 1)
    assert.equal(conns[0].streams.filter(s => s.protocol === '/dcis/raft/1.0.0').length, 1, 'one raft stream for all groups')
  })

  it('a full queue drops the oldest heartbeats/appends, never grows past its bound, keeps votes', async () => {
    await a.transport.stop()
    const t = createRaftTransport({ libp2p: a.libp2p, logger: silent, maxQueue: 50, addressesOf: p => book.get(p) ?? [] })
    await t.start()
    try {
      const got: Message[] = []
      b.transport.register('g', { isMember: () => true, deliver: m => { got.push(m) } })
      // send() is synchronous: 1000 frames are queued before the pump can write any
      t.send('g', makeMessage({ type: MessageType.MsgVote, from: a.id, to: b.id, term: 1 }))
      for (let i = 0; i < 1000; i++) t.send('g', makeMessage({ type: MessageType.MsgHeartbeat, from: a.id, to: b.id, term: 2, commit: i }))
      // frames arrive in order: once the newest heartbeat is in, everything that survived is
      await waitFor('delivery of the newest heartbeat', () => got.some(m => m.commit === 999), { timeoutMs: 5000, intervalMs: 10 })
      assert.ok(t.stats.dropped >= 950, `dropped ${t.stats.dropped}`)
      assert.ok(got.length <= 51, `delivered ${got.length}`)
      assert.equal(got[0].type, MessageType.MsgVote, 'the vote survived')
      assert.equal(got[got.length - 1].commit, 999, 'the newest heartbeat survived')
    } finally {
      await t.stop()
    }
  })

  it('an unreachable peer: queued frames are dropped and the group is told', async () => {
    const key = await generateKeyPair('Ed25519')
    const ghost = await startLibp2p(key)
    const ghostId = ghost.peerId.toString()
    const addrs = ghost.getMultiaddrs().map(x => x.toString())
    await ghost.stop()
    book.set(ghostId, addrs)
    const unreachable: string[] = []
    a.transport.register('g', { isMember: () => true, deliver: () => {}, unreachable: p => { unreachable.push(p) } })
    a.transport.send('g', makeMessage({ type: MessageType.MsgApp, from: a.id, to: ghostId, term: 1 }))
    await waitFor('unreachable reported', () => unreachable.includes(ghostId), { timeoutMs: 8000, intervalMs: 20 })
    assert.ok(a.transport.stats.dropped >= 1)
  })
})
