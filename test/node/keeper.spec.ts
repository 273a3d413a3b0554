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
})
