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
import { signedEnd } from './fixtures.js'
import { TestMesh } from './mesh.js'

describe('registry: own descriptor lifetime scales with the federation', function () {
  this.timeout(120_000)

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
})
