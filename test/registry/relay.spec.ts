import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { identityFromPrivateKey } from '../../src/identity/index.js'
import { END_SYNC_PROTOCOL } from '../../src/registry/index.js'
import { waitFor } from '../helpers/wait.js'
import { signedEnd } from './fixtures.js'
import { api, counterValue, TestMesh } from './mesh.js'
import type { Libp2p } from '@libp2p/interface'

describe('registry: relaying a neighbour\'s own descriptor learnt by sync', function () {
  this.timeout(120_000)
  const mesh = new TestMesh()
  let silent: Libp2p | undefined

  before(async () => {
    await mesh.init()
    await mesh.add({ region: 'eu-west' })
    await mesh.add({ region: 'us-east' })
    await waitFor('two peers know each other', () => mesh.nodes.every(n => n.registry.list().length === 2), { timeoutMs: 30_000 })
  })

  after(async () => {
    await silent?.stop()
    await mesh.close()
  })

  it('a peer that never gossips (it only answers registry pulls) still reaches peers it is not connected to', async () => {
    // a plain libp2p peer: no gossipsub at all, it serves its own signed END on /dcis/end-sync
    const key = await generateKeyPair('Ed25519')
    const id = identityFromPrivateKey(key)
    const jwt = await signedEnd(id)
    silent = await createLibp2p({
      privateKey: key,
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify() }
    })
    await silent.handle(END_SYNC_PROTOCOL, async (stream) => {
      const lp = lpStream(stream)
      await lp.write(new TextEncoder().encode(jwt))
      await stream.close()
    })
    const node0 = mesh.nodes[0]
    const node1 = mesh.nodes[1]
    const relayed = async (): Promise<number> => counterValue(await node0.metrics.metrics(), 'dcis_registry_publications_total', { channel: 'relay' })
    const before = await relayed()
    // it connects to node 0 only; node 0 pulls its registry on connect
    await silent.dial(node0.libp2p.getMultiaddrs()[0])
    await waitFor('node 0 relays the descriptor it pulled', async () => (await relayed()) > before, { timeoutMs: 30_000 })
    const peerId = id.peerId.toString()
    await waitFor('node 1 lists the silent peer', async () => (await api(`${node1.api!.url}/v1/registry/nodes/${peerId}`)).status === 200, { timeoutMs: 30_000 })
    assert.equal(node1.libp2p.getConnections(id.peerId).length, 0, 'node 1 learnt it by gossip, not by a connection of its own')
    const { body } = await api<{ peerId: string, endJwt: string, source: string }>(`${node1.api!.url}/v1/registry/nodes/${peerId}`)
    assert.equal(body.peerId, peerId)
    assert.equal(body.endJwt, jwt)
    assert.equal(body.source, 'gossip')
  })
})
