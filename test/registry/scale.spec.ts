/**
 * Registry refreshes stay bounded as the federation grows: beyond
 * END_SCALE_PEERS descriptors held, a peer's own END lives (and is
 * re-signed and republished) proportionally longer, so the refreshes every
 * peer receives per second stay about constant (docs/scale.md).
 */
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identityFromPrivateKey } from '../../src/identity/index.js'
import { END_SCALE_PEERS, endScale } from '../../src/registry/index.js'
import { waitFor } from '../helpers/wait.js'
import { signedEnd } from './fixtures.js'
import { counterValue, TestMesh } from './mesh.js'

describe('registry: own descriptor lifetime scales with the federation', function () {
  this.timeout(240_000)

  it('endScale: 1 up to END_SCALE_PEERS, then in proportion, capped', () => {
    assert.equal(endScale(0), 1)
    assert.equal(endScale(END_SCALE_PEERS), 1)
    assert.equal(endScale(END_SCALE_PEERS * 4), 4)
    assert.equal(endScale(1e9), 36)
  })

  describe('a real peer', () => {
    const mesh = new TestMesh()
    before(async () => { await mesh.init() })
    after(async () => { await mesh.close() })

    it('re-signs its END with the configured lifetime in a small federation and a longer one holding 2x END_SCALE_PEERS', async () => {
      const node = await mesh.add({ region: 'eu-west' })
      const self0 = node.registry.self()
      assert.ok(self0 != null)
      assert.equal(self0.exp - self0.iat, 600)
      // learn 2 x END_SCALE_PEERS descriptors (as a sync pull would bring them)
      for (let i = 0; i < 2 * END_SCALE_PEERS; i++) {
        const id = identityFromPrivateKey(await generateKeyPair('Ed25519'))
        const { result } = await node.registry.ingest(await signedEnd(id), 'sync')
        assert.equal(result, 'added')
      }
      await node.registry.publishSelf(true)
      const self1 = node.registry.self()
      assert.ok(self1 != null && self1.iat > self0.iat)
      assert.equal(self1.exp - self1.iat, Math.round(600 * (2 * END_SCALE_PEERS + 1) / END_SCALE_PEERS))
    })
  })

  describe('registry pulls on connect', () => {
    const mesh = new TestMesh()
    before(async () => { await mesh.init() })
    after(async () => { await mesh.close() })

    const pulls = async (i: number, result: string): Promise<number> => counterValue(await mesh.nodes[i].metrics.metrics(), 'dcis_registry_connect_pulls_total', { result })

    it('a newcomer is pulled from; a reconnection between peers that know each other pulls nothing', async () => {
      await mesh.add({ region: 'eu-west' })
      await mesh.add({ region: 'us-east' })
      const [a, b] = mesh.nodes
      await waitFor('both registries hold both', () => mesh.nodes.every(n => n.registry.list().length === 2), { timeoutMs: 60_000 })
      assert.ok(await pulls(0, 'pulled') >= 1, 'the first connection pulled (b was a newcomer to a)')
      // a has completed a pull (on connect, or its first anti-entropy pull when b was not serving yet)
      await waitFor('a pulled from b once', async () => counterValue(await a.metrics.metrics(), 'dcis_registry_descriptors_accepted_total', { source: 'sync' }) > 0, { timeoutMs: 90_000 })
      const skipped = await pulls(0, 'skipped')
      await a.libp2p.hangUp(b.libp2p.peerId)
      await waitFor('b reconnected (its keeper redials its bootstrap peer)', () => a.libp2p.getPeers().some(p => p.equals(b.libp2p.peerId)), { timeoutMs: 60_000 })
      await waitFor('the reconnection was counted as skipped', async () => (await pulls(0, 'skipped')) > skipped, { timeoutMs: 30_000 })
    })
  })
})
