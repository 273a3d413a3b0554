import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { pino } from 'pino'
import { FederationKeeper } from '../../src/node/keeper.js'
import { waitFor } from '../helpers/wait.js'
import type { PeerId } from '@libp2p/interface'

/** the slice of libp2p the keeper uses: connections, the peer store, DHT lookups */
class FakeLibp2p {
  connected: PeerId[] = []
  known: PeerId[] = []
  lookups = 0
  scans = 0
  dials = 0
  constructor (readonly peerId: PeerId) {}
  getPeers (): PeerId[] { return this.connected }
  getConnections (): [] { return [] }
  readonly services = {}
  readonly peerStore = {
    all: async () => { this.scans++; return this.known.map(id => ({ id, addresses: [{ multiaddr: '/ip4/127.0.0.1/tcp/1' }] })) }
  }

  readonly peerRouting = {
    getClosestPeers: (_key: Uint8Array) => {
      this.lookups++
      return (async function * () {})()
    }
  }

  async dial (): Promise<void> { this.dials++ }
}

async function newPeerId (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

describe('node/keeper', function () {
  this.timeout(20_000)

  it('a small federation (all peers connected, below the target) backs its self lookups off instead of walking the DHT every round', async () => {
    const self = await newPeerId()
    const fake = new FakeLibp2p(self)
    const others = await Promise.all([newPeerId(), newPeerId(), newPeerId()])
    fake.connected = others
    fake.known = others
    const keeper = new FederationKeeper(fake as never, pino({ level: 'silent' }), { bootstrap: [], intervalMs: 5, lookupIntervalMs: 20, maxLookupIntervalMs: 160 })
    keeper.start()
    try {
      await waitFor('the lookup interval to reach its cap', () => keeper.lookupIntervalMs === 160, { intervalMs: 5, timeoutMs: 10_000 })
      const lookups = fake.lookups
      const scans = fake.scans
      // at the cap: ~1 lookup per 160 ms, and no peer-store scan in between
      await new Promise(resolve => setTimeout(resolve, 400))
      assert.ok(fake.lookups - lookups <= 4, `lookups ${fake.lookups - lookups}`)
      assert.ok(fake.scans - scans <= 3 * 2 + 2, `scans ${fake.scans - scans}`)
      assert.equal(fake.dials, 0)
      // a lost connection is news: back to the base interval
      fake.connected = others.slice(0, 2)
      await waitFor('the interval reset', () => keeper.lookupIntervalMs === 20, { intervalMs: 2, timeoutMs: 5_000 })
    } finally {
      keeper.stop()
    }
  })

  it('dials known peers that are not connected', async () => {
    const self = await newPeerId()
    const fake = new FakeLibp2p(self)
    const others = await Promise.all([newPeerId(), newPeerId()])
    fake.connected = [others[0]]
    fake.known = others
    const keeper = new FederationKeeper(fake as never, pino({ level: 'silent' }), { bootstrap: [], intervalMs: 5 })
    keeper.start()
    try {
      await waitFor('a dial to the unconnected peer', () => fake.dials > 0, { intervalMs: 5 })
    } finally {
      keeper.stop()
    }
  })

  it('identifies a connection again when its first identify never recorded a protocol, and checks a good one only once', async () => {
    const self = await newPeerId()
    const bare = await newPeerId()
    const good = await newPeerId()
    const conn = (peer: PeerId): unknown => ({ remotePeer: peer, status: 'open', timeline: { open: Date.now() - 60_000 } })
    const conns = [conn(bare), conn(good)]
    let reads = 0
    const identified: string[] = []
    const fake = {
      peerId: self,
      getPeers: () => [bare, good],
      getConnections: () => conns,
      peerStore: {
        all: async () => [],
        get: async (id: PeerId) => { reads++; return { protocols: id.equals(good) ? ['/meshsub/1.2.0'] : [] } }
      },
      peerRouting: { getClosestPeers: () => (async function * () {})() },
      dial: async () => {},
      services: { identify: { identify: async (c: { remotePeer: PeerId }) => { identified.push(c.remotePeer.toString()) } } }
    }
    const keeper = new FederationKeeper(fake as never, pino({ level: 'silent' }), { bootstrap: [], intervalMs: 10, lookupIntervalMs: 60_000 })
    keeper.start()
    try {
      await waitFor('the bare connection identified again', () => identified.length >= 2, { intervalMs: 5, timeoutMs: 10_000 })
      assert.ok(identified.every(p => p === bare.toString()), `identified ${identified.join(',')}`)
      // the good connection's record was read once; the bare one at each tick until identify records protocols
      const goodReads = reads - identified.length
      assert.ok(goodReads <= 2, `reads of the good peer's record: ${goodReads}`)
      // a peer that never records a protocol is tried a bounded number of times
      await new Promise(resolve => setTimeout(resolve, 200))
      assert.equal(identified.length, 3)
    } finally {
      keeper.stop()
    }
  })
})

