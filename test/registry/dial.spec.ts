/**
 * dialPeer: a member the peer store knows nothing about is still reached
 * through the addresses of its descriptor (the fallback every members-only
 * client uses: allocations, raft, eventual RPC and sync, function forwards).
 */
import assert from 'node:assert/strict'
import { dialPeer, endAddresses } from '../../src/registry/dial.js'
import { bareNode } from '../helpers/libp2p.js'
import type { Libp2p } from '@libp2p/interface'

const A = '12D3KooWMBsk3SVaqtHE3Am3FxgS22gZA6LGLsD4jhbCYF4XURE2'

describe('registry: dialPeer', function () {
  this.timeout(20_000)

  it('endAddresses are the verified descriptor\'s, none for an unknown peer or no registry', function () {
    const registry = { list: () => [{ end: { peerId: A, multiaddrs: ['/ip4/10.0.0.1/tcp/4001'] } }, { end: { peerId: 'other' } }] }
    assert.deepEqual(endAddresses(registry, A), ['/ip4/10.0.0.1/tcp/4001'])
    assert.deepEqual(endAddresses(registry, 'other'), [])
    assert.deepEqual(endAddresses(registry, 'nobody'), [])
    assert.deepEqual(endAddresses(undefined, A), [])
  })

  it('falls back to the descriptor addresses (with /p2p/<peer> appended once) only when the peer-store dial fails', async function () {
    const calls: string[][] = []
    let failFirst = true
    const libp2p = {
      dialProtocol: async (target: unknown) => {
        const t = Array.isArray(target) ? target.map(String) : [String(target)]
        calls.push(t)
        if (failFirst && !Array.isArray(target)) throw Object.assign(new Error('no addresses'), { name: 'NoValidAddressesError' })
        return { id: 's' }
      }
    } as unknown as Pick<Libp2p, 'dialProtocol'>
    const addrs = ['/ip4/10.0.0.1/tcp/4001', `/ip4/10.0.0.2/tcp/4001/p2p/${A}`]
    await dialPeer(libp2p, A, '/x/1', () => addrs, AbortSignal.timeout(5_000))
    assert.deepEqual(calls, [[A], [`/ip4/10.0.0.1/tcp/4001/p2p/${A}`, `/ip4/10.0.0.2/tcp/4001/p2p/${A}`]])

    // the peer store dial works: the addresses are not even asked for
    calls.length = 0
    failFirst = false
    await dialPeer(libp2p, A, '/x/1', () => { throw new Error('not asked') }, AbortSignal.timeout(5_000))
    assert.deepEqual(calls, [[A]])

    // nothing to fall back to, or the caller gave up: the first error stands
    failFirst = true
    calls.length = 0
    await assert.rejects(dialPeer(libp2p, A, '/x/1', () => [], AbortSignal.timeout(5_000)), { name: 'NoValidAddressesError' })
    const gone = new AbortController()
    gone.abort()
    await assert.rejects(dialPeer(libp2p, A, '/x/1', () => addrs, gone.signal), { name: 'NoValidAddressesError' })
    assert.equal(calls.length, 2)
  })

  it('reaches a real peer the peer store has never heard of', async function () {
    const [a, b] = [await bareNode(), await bareNode()]
    try {
      await b.handle('/dcis/test-dial/1.0.0', (stream) => { void stream.close() })
      const peer = b.peerId.toString()
      // the plain libp2p dial by id has nothing to go on (no addresses, no peer routing)
      await assert.rejects(a.dialProtocol(b.peerId, '/dcis/test-dial/1.0.0', { signal: AbortSignal.timeout(5_000) }))
      const stream = await dialPeer(a, peer, '/dcis/test-dial/1.0.0', () => b.getMultiaddrs().map(m => m.decapsulate(`/p2p/${peer}`).toString()), AbortSignal.timeout(5_000))
      assert.equal(stream.protocol, '/dcis/test-dial/1.0.0')
      stream.abort(new Error('test over'))
    } finally {
      await a.stop()
      await b.stop()
    }
  })
})
