/**
 * Three real peer processes on 127.0.0.1 (`dcis start`, as `dcis up` runs
 * them): peers 1 and 2 know only peer 0, yet all three must see each other,
 * serve DHT lookups, carry gossip between processes and move a helia block
 * from one peer to another by CID.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { noise } from '@libp2p/noise'
import { peerIdFromString } from '@libp2p/peer-id'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { LocalMesh } from '../../src/cli/local-mesh.js'
import { cliCommand } from '../helpers/cli.js'
import { api } from '../helpers/http.js'
import { freePortBlock } from '../helpers/ports.js'
import { waitFor } from '../helpers/wait.js'
import type { Libp2p } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'


describe('e2e: a 3-process mesh', function () {
  this.timeout(120_000)
  let dir: string
  let mesh: LocalMesh
  let client: Libp2p<{ dht: KadDHT }> | undefined

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'dcis-e2e-'))
    mesh = new LocalMesh({
      nodes: 3,
      regions: ['eu-west', 'us-east', 'ap-south'],
      basePort: await freePortBlock(3),
      dataDir: dir,
      logLevel: 'warn',
      command: cliCommand()
    })
    await mesh.start()
  })

  after(async function () {
    await client?.stop()
    await mesh?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('peers see each other in /v1/peers within 30 s', async function () {
    // process start-up (tsx compiling the sources on a busy machine) is not
    // part of the 30 s: wait for every API to answer first
    await waitFor('every peer API to answer', async () => {
      for (const peer of mesh.peers) {
        assert.equal(peer.exited, false, `peer ${peer.index} exited; log: ${peer.logFile}`)
        if ((await fetch(`${peer.apiUrl}/healthz`, { signal: AbortSignal.timeout(2000) })).status !== 200) return false
      }
      return true
    }, { timeoutMs: 90_000 })
    await waitFor('every peer ready with the 2 others in /v1/peers', async () => {
      for (const peer of mesh.peers) {
        assert.equal(peer.exited, false, `peer ${peer.index} exited; log: ${peer.logFile}`)
        const { body } = await api<{ peers: Array<{ peerId: string }> }>(`${peer.apiUrl}/v1/peers`)
        const ids = new Set(body.peers.map(p => p.peerId))
        for (const other of mesh.peers) {
          if (other !== peer && !ids.has(other.peerId)) return false
        }
        if ((await api(`${peer.apiUrl}/readyz`)).status !== 200) return false
      }
      return true
    }, { timeoutMs: 30_000 })
  })

  it('each peer process re-executed itself with a small young generation and 2 malloc arenas (same pid, no wrapper)', async function () {
    if (process.platform !== 'linux') this.skip()
    for (const peer of mesh.peers) {
      const pid = peer.process?.pid
      assert.ok(pid != null, `peer ${peer.index} has no process`)
      const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0')
      const env = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0')
      assert.ok(argv.includes('--max-semi-space-size=8'), argv.join(' '))
      assert.ok(env.includes('MALLOC_ARENA_MAX=2'), `peer ${peer.index}: no MALLOC_ARENA_MAX=2 in its environment`)
    }
  })

  it('/v1/node reports identity, region and addresses', async function () {
    for (const peer of mesh.peers) {
      const { status, body } = await api(`${peer.apiUrl}/v1/node`)
      assert.equal(status, 200)
      assert.equal(body.peerId, peer.peerId)
      assert.match(body.did, /^did:key:z6Mk/)
      assert.equal(body.region, peer.region)
      assert.ok(body.multiaddrs.some((a: string) => a.includes(`/p2p/${peer.peerId}`)))
    }
  })

  it('every peer\'s registry lists all three verified descriptors', async function () {
    await waitFor('3 descriptors in every registry', async () => {
      for (const peer of mesh.peers) {
        const { body } = await api<{ nodes: Array<{ peerId: string, region: string, endJwt: string }> }>(`${peer.apiUrl}/v1/registry/nodes`)
        if (body.nodes.length !== 3) return false
        for (const other of mesh.peers) {
          const n = body.nodes.find(x => x.peerId === other.peerId)
          if (n == null || n.region !== other.region || n.endJwt.split('.').length !== 3) return false
        }
      }
      return true
    })
    const filtered = await api<{ nodes: Array<{ peerId: string }> }>(`${mesh.peers[0].apiUrl}/v1/registry/nodes?region=us-east`)
    assert.deepEqual(filtered.body.nodes.map(n => n.peerId), [mesh.peers[1].peerId])
  })

  it('measures RTT to its peers with ping', async function () {
    await waitFor('an RTT for every peer of peer 0', async () => {
      const { body } = await api<{ peers: Array<{ rttMs: number | null }> }>(`${mesh.peers[0].apiUrl}/v1/peers`)
      return body.peers.length === 2 && body.peers.every(p => typeof p.rttMs === 'number' && p.rttMs >= 0)
    })
  })

  it('serves DHT lookups: an outside client that knows only peer 0 finds peer 2', async function () {
    client = await createLibp2p({
      addresses: { listen: [] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: {
        identify: identify(),
        ping: ping(),
        dht: kadDHT({ protocol: '/dcis/kad/1.0.0', clientMode: true, peerInfoMapper: passthroughMapper }) as never
      }
    }) as unknown as Libp2p<{ dht: KadDHT }>
    await client.dial(multiaddr(mesh.peers[0].libp2pAddr))
    const target = mesh.peers[2]
    const found = await waitFor('a DHT answer for peer 2', async () => {
      const info = await client!.peerRouting.findPeer(peerIdFromString(target.peerId), { signal: AbortSignal.timeout(5_000) })
      return info.multiaddrs.map(String)
    })
    assert.ok(found.some(a => target.libp2pAddr.startsWith(a)), `peer 2's listen address in ${found.join(', ')}`)

    // and through the HTTP API of peer 1
    const { status, body } = await api(`${mesh.peers[1].apiUrl}/v1/dht/peers/${mesh.peers[2].peerId}`)
    assert.equal(status, 200)
    assert.equal(body.peerId, mesh.peers[2].peerId)
  })

  it('carries a gossipsub message from one process to another', async function () {
    const topic = 'e2e.hello'
    for (const peer of mesh.peers) {
      assert.equal((await api(`${peer.apiUrl}/v1/pubsub/${topic}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' })).status, 200)
    }
    const text = `hello from peer 1 at ${Date.now()}`
    await waitFor('peer 2 to receive the message published by peer 1', async () => {
      const inbox = await api<{ messages: Array<{ from: string, data: string }> }>(`${mesh.peers[2].apiUrl}/v1/pubsub/${topic}`)
      if (inbox.body.messages.some(m => m.data === text && m.from === mesh.peers[1].peerId)) return true
      // gossipsub needs a heartbeat to graft the topic mesh: publish until it arrives
      await api(`${mesh.peers[1].apiUrl}/v1/pubsub/${topic}`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: text })
      })
      return false
    }, { intervalMs: 500 })
  })

  it('fetches a helia JSON block added on another peer by CID', async function () {
    const value = { hello: 'mesh', at: Date.now() }
    const put = await api<{ cid: string }>(`${mesh.peers[2].apiUrl}/v1/blocks`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(value)
    })
    assert.equal(put.status, 201)
    const got = await api(`${mesh.peers[0].apiUrl}/v1/blocks/${put.body.cid}?timeoutMs=15000`)
    assert.equal(got.status, 200)
    assert.deepEqual(got.body.value, value)
  })

  it('rejects bad identifiers with 400 and keeps serving', async function () {
    const bad = await api(`${mesh.peers[0].apiUrl}/v1/blocks/not-a-cid`)
    assert.equal(bad.status, 400)
    assert.equal(bad.body.error.code, 'INVALID_IDENTIFIER')
    const proto = await api(`${mesh.peers[0].apiUrl}/v1/pubsub/${encodeURIComponent('dcis/end/1')}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' })
    assert.equal(proto.status, 400)
    assert.equal((await api(`${mesh.peers[0].apiUrl}/healthz`)).status, 200)
  })

  it('stops every process cleanly on SIGTERM (exit 0)', async function () {
    await mesh.stop()
    for (const peer of mesh.peers) {
      assert.equal(peer.exitCode, 0, `peer ${peer.index} exit code; log: ${peer.logFile}`)
    }
  })
})
