import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identityFromPrivateKey } from '../../src/identity/index.js'
import { waitFor } from '../helpers/wait.js'
import { signedEnd } from './fixtures.js'
import { counterValue, TestMesh } from './mesh.js'

describe('registry: anti-entropy pulls what gossip missed', function () {
  this.timeout(180_000)
  const mesh = new TestMesh()

  before(async () => {
    await mesh.init()
    await mesh.add({ region: 'eu-west' })
    await mesh.add({ region: 'us-east' })
    await waitFor('two peers know each other', () => mesh.nodes.every(n => n.registry.list().length === 2), { timeoutMs: 30_000 })
  })

  after(async () => {
    await mesh.close()
  })

  it('a descriptor one peer holds but never gossiped reaches its neighbour without a new connection or a republish', async () => {
    const [node0, node1] = mesh.nodes
    const id = identityFromPrivateKey(await generateKeyPair('Ed25519'))
    const jwt = await signedEnd(id)
    const peerId = id.peerId.toString()
    // learnt "by sync": held, not relayed (as if it went round while node 1 was not in the gossip mesh)
    const { result } = await node0.registry.ingest(jwt, 'sync')
    assert.equal(result, 'added')
    assert.equal(node1.registry.cache.get(peerId), undefined)
    const connections = node1.libp2p.getConnections().map(c => c.id).sort()
    // node 1's first anti-entropy pull is due ~30 s after start (or after its last new connection), then backs off
    await waitFor('node 1 holds the descriptor', () => node1.registry.cache.get(peerId) != null, { timeoutMs: 100_000, intervalMs: 100 })
    assert.equal(node1.registry.cache.get(peerId)?.jwt, jwt)
    assert.deepEqual(node1.libp2p.getConnections().map(c => c.id).sort(), connections, 'no new connection was needed')
    const pulls = counterValue(await node1.metrics.metrics(), 'dcis_registry_anti_entropy_pulls_total', { result: 'news' })
    assert.ok(pulls >= 1, `anti-entropy pulls with news: ${pulls}`)
  })

  it('learn(): a connected caller whose descriptor never reached us is pulled from it at once, concurrent callers share the pull', async () => {
    const [node0, node1] = mesh.nodes
    const id0 = node0.libp2p.peerId.toString()
    const genuine = node1.registry.cache.get(id0)?.jwt
    assert.ok(genuine != null)
    // as if node 0's announcement had never arrived
    node1.registry.cache['entries'].delete(id0)
    assert.equal(node1.registry.list().some(e => e.end.peerId === id0), false)
    const [a, b] = await Promise.all([node1.registry.learn(id0), node1.registry.learn(id0)])
    assert.equal(a?.end.peerId, id0)
    assert.equal(b?.jwt, a?.jwt)
    assert.ok(node1.registry.list().some(e => e.end.peerId === id0))
    // a peer that does not hold its own descriptor (here: an unknown id, nobody to dial) answers undefined, and is not asked again at once
    const stranger = identityFromPrivateKey(await generateKeyPair('Ed25519')).peerId.toString()
    assert.equal(await node1.registry.learn(stranger), undefined)
    assert.equal(await node1.registry.learn(stranger), undefined)
    assert.equal(await node1.registry.learn('not a peer id'), undefined)
  })
})
