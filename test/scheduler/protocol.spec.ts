import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { MemoryDatastore } from 'datastore-core'
import { LevelDatastore } from 'datastore-level'
import type { Key } from 'interface-datastore'
import { Registry } from 'prom-client'
import {
  ALLOC_PROTOCOL, AllocationNotFoundError, InvalidConstraintsError, AllocationPeerError, InvalidAllocationIdError, NoPlacementError,
  decodeResponse, makeAllocationId, parseAllocationRequest
} from '../../src/scheduler/index.js'
import { FakeOracle, fakePeerId } from './fixtures.js'
import { entryOf, FakeRegistry, startPeer, stopPeer } from './mesh.js'
import type { MeshPeer } from './mesh.js'
import type { AllocResponse, AllocationView } from '../../src/scheduler/index.js'

function req (body: Record<string, unknown>): ReturnType<typeof parseAllocationRequest> {
  return parseAllocationRequest(body)
}

describe('scheduler allocation protocol (real libp2p on 127.0.0.1)', function () {
  this.timeout(30_000)
  const registry = new FakeRegistry()
  const peers: MeshPeer[] = []
  let a: MeshPeer, b: MeshPeer, c: MeshPeer

  before(async () => {
    a = await startPeer({ name: 'a', capacity: { cpu: 0, memoryMb: 0 }, registry })
    b = await startPeer({ name: 'b', capacity: { cpu: 3, memoryMb: 3000 }, registry })
    c = await startPeer({ name: 'c', capacity: { cpu: 4, memoryMb: 4096 }, registry })
    peers.push(a, b, c)
  })

  after(async () => {
    await Promise.all(peers.map(stopPeer))
  })

  beforeEach(async () => {
    // fresh ledgers and oracles between tests
    for (const p of peers) {
      for (const r of p.service.ledger.list()) await p.service.ledger.release(r.id)
      p.oracle.table.clear()
      p.oracle.probes.clear()
      p.oracle.probed.length = 0
    }
    registry.entries = [
      entryOf(b, { region: 'eu-west', zone: 'eu-west-a', freeCpu: 3, freeMemoryMb: 3000 }),
      entryOf(c, { region: 'us-east', zone: 'us-east-a', freeCpu: 4, freeMemoryMb: 4096 })
    ]
  })

  it('places on the closer peer, and GET/DELETE work from a non-owner peer', async () => {
    a.oracle.set(a.id, b.id, 5, 1).set(a.id, c.id, 80, 5)
    const alloc = await a.service.allocate(req({ constraints: { cpu: 1, memory: '256Mi', latencyMs: 20 } }), { explain: true })
    assert.equal(alloc.id.split('.')[0], b.id, 'the id names the owner')
    assert.deepEqual(alloc.nodes.map(n => n.peerId), [b.id])
    assert.equal(alloc.nodes[0].rttMs, 5)
    assert.equal(alloc.cpu, 1)
    assert.equal(alloc.memoryMb, 256)
    assert.deepEqual(alloc.constraints, { cpu: 1, memory: '256Mi', latencyMs: 20 })
    assert.equal(alloc.explanation?.removed.latency, 1)
    assert.deepEqual(b.service.free(), { cpu: 2, memoryMb: 3000 - 256 })

    const fromC = await c.service.get(alloc.id)
    assert.equal(fromC.id, alloc.id)
    assert.deepEqual(fromC.nodes, [{ peerId: b.id, region: 'eu-west', zone: 'eu-west-a' }])
    assert.equal(fromC.expiresAt, alloc.expiresAt)

    const released = await c.service.release(alloc.id)
    assert.equal(released.id, alloc.id)
    assert.deepEqual(b.service.free(), { cpu: 3, memoryMb: 3000 })
    await assert.rejects(a.service.get(alloc.id), AllocationNotFoundError)
    await assert.rejects(c.service.release(alloc.id), AllocationNotFoundError)
  })

  it('region and latency constraints: lands only on peers that satisfy both, else explains', async () => {
    a.oracle.set(a.id, b.id, 5, 1).set(a.id, c.id, 12, 1)
    const us = await a.service.allocate(req({ constraints: { region: 'us-east', latencyMs: 20 } }))
    assert.deepEqual(us.nodes.map(n => n.peerId), [c.id])
    await assert.rejects(a.service.allocate(req({ constraints: { region: 'us-east', latencyMs: 10 } })), (err: unknown) => {
      assert.ok(err instanceof NoPlacementError)
      assert.deepEqual(err.explanation.removed, { runtime: 0, cpu: 0, memory: 0, region: 1, tee: 0, trust: 0, arch: 0, latency: 1 })
      assert.equal(err.explanation.total, 2)
      return true
    })
    assert.equal(a.oracle.probed.length, 0, 'a clear failure needs no probe')
  })

  it('confirms borderline candidates with a probe before reserving', async () => {
    a.oracle.set(a.id, b.id, 18, 5).set(a.id, c.id, 19, 5)
    a.oracle.probes.set(b.id, 30) // over the limit
    a.oracle.probes.set(c.id, 15)
    const alloc = await a.service.allocate(req({ constraints: { latencyMs: 20 } }), { explain: true })
    assert.deepEqual(alloc.nodes.map(n => n.peerId), [c.id])
    assert.equal(alloc.nodes[0].rttMs, 15, 'the probe replaces the estimate')
    assert.equal(alloc.explanation?.borderline, 2)
    assert.equal(alloc.explanation?.borderlineRejectedByProbe, 1)
    assert.deepEqual(a.oracle.probed, [b.id, c.id])
    assert.equal(b.service.ledger.list().length, 0, 'nothing reserved on the rejected peer')

    a.oracle.probes.set(c.id, 25)
    await assert.rejects(a.service.allocate(req({ constraints: { latencyMs: 20 } })), (err: unknown) => {
      assert.ok(err instanceof NoPlacementError)
      assert.equal(err.explanation.borderlineRejectedByProbe, 2)
      return true
    })
  })

  it('a refusal by the target\'s ledger moves on to the next candidate', async () => {
    // the registry still shows b with 3 free cores, but b's ledger has only 1 left
    assert.ok((await b.service.ledger.reserve({ id: makeAllocationId(b.id, 'prefilled'), cpu: 2, memoryMb: 0, leaseMs: 60_000, placer: a.id, constraints: {} })).accepted)
    a.oracle.set(a.id, b.id, 1, 0).set(a.id, c.id, 50, 0)
    const alloc = await a.service.allocate(req({ constraints: { cpu: 2 } }), { explain: true })
    assert.deepEqual(alloc.nodes.map(n => n.peerId), [c.id])
    assert.equal(alloc.id.split('.')[0], c.id)
    assert.equal(alloc.explanation?.refused, 1)
    assert.equal(b.service.ledger.list().length, 1)
  })

  it('concurrent allocations from two placers never overcommit one small target', async () => {
    registry.entries = [entryOf(b, { region: 'eu-west', freeCpu: 3, freeMemoryMb: 3000 })]
    const attempts = 12
    const results = await Promise.allSettled(Array.from({ length: attempts }, async (_, i) => {
      const placer = i % 2 === 0 ? a : c
      return placer.service.allocate(req({ constraints: { cpu: 1, memory: '500Mi' } }))
    }))
    const placed = results.filter((r): r is PromiseFulfilledResult<AllocationView> => r.status === 'fulfilled')
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    assert.equal(placed.length, 3, 'exactly the capacity: 3 cores')
    for (const f of failed) {
      assert.ok(f.reason instanceof NoPlacementError, String(f.reason))
      assert.equal(f.reason.explanation.refused, 1)
    }
    assert.equal(new Set(placed.map(p => p.value.id)).size, 3)
    const held = b.service.ledger.list()
    assert.equal(held.length, 3)
    assert.ok(held.reduce((s, r) => s + r.cpu, 0) <= 3)
    assert.deepEqual(b.service.free(), { cpu: 0, memoryMb: 3000 - 1500 })
  })

  it('replicas spread across zones; the owner releases every replica', async () => {
    const alloc = await a.service.allocate(req({ constraints: { cpu: 1 }, replicas: 2 }))
    assert.deepEqual(new Set(alloc.nodes.map(n => n.peerId)), new Set([b.id, c.id]))
    const owner = alloc.id.split('.')[0]
    assert.equal(owner, alloc.nodes[0].peerId)
    const other = owner === b.id ? c : b
    assert.equal(other.service.ledger.list().length, 1)
    const got = await other.service.get(alloc.id)
    assert.equal(got.nodes.length, 2)
    const renewed = await a.service.renew(alloc.id, 120_000)
    assert.equal(renewed.leaseMs, 120_000)
    assert.equal(other.service.ledger.get(alloc.id)?.leaseMs, 120_000, 'renewal reaches the replica')
    await a.service.release(alloc.id)
    assert.equal(b.service.ledger.list().length, 0)
    assert.equal(c.service.ledger.list().length, 0)
  })

  it('asking for more replicas than fit releases what was reserved and explains', async () => {
    await assert.rejects(a.service.allocate(req({ constraints: { cpu: 1 }, replicas: 3 })), (err: unknown) => {
      assert.ok(err instanceof NoPlacementError)
      assert.equal(err.explanation.eligible, 2)
      assert.match(err.message, /"eligible":2/)
      return true
    })
    // partial reservation: c can hold it but b refuses (full)
    assert.ok((await b.service.ledger.reserve({ id: makeAllocationId(b.id, 'fillsall'), cpu: 3, memoryMb: 0, leaseMs: 60_000, placer: a.id, constraints: {} })).accepted)
    await assert.rejects(a.service.allocate(req({ constraints: { cpu: 1 }, replicas: 2 })), NoPlacementError)
    assert.equal(c.service.ledger.list().length, 0, 'the reservation on c was released')
  })

  it('rejects bad ids, and unknown owners are a peer error', async () => {
    await assert.rejects(a.service.get('nope'), InvalidAllocationIdError)
    await assert.rejects(a.service.get(makeAllocationId(fakePeerId(7), 'abcdefgh')), InvalidAllocationIdError, 'not a real peer id')
    const stranger = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    await assert.rejects(a.service.get(makeAllocationId(stranger, 'abcdefgh')), AllocationPeerError)
    await assert.rejects(a.service.get(makeAllocationId(b.id, 'abcdefgh')), AllocationNotFoundError)
  })

  it('answers malformed and oversized frames with bad-request and keeps serving', async () => {
    const frames: Array<[Uint8Array, RegExp]> = [
      [new TextEncoder().encode('{nope'), /UTF-8 JSON/],
      [new TextEncoder().encode(JSON.stringify({ v: 1, op: 'reserve', id: makeAllocationId(b.id, 'xxxxxxxx'), cpu: -1, memoryMb: 1, leaseMs: 5000 })), /cpu/],
      [new TextEncoder().encode(JSON.stringify({ v: 1, op: 'reserve', id: makeAllocationId(b.id, 'xxxxxxxx'), cpu: Number.MAX_VALUE, memoryMb: 1, leaseMs: 5000 })), /cpu/],
      [new TextEncoder().encode(JSON.stringify({ v: 1, op: 'reserve', id: makeAllocationId(b.id, 'xxxxxxxx'), cpu: 1, memoryMb: 1, leaseMs: 5000, constraints: { memory: '1XB' } })), /constraints\.memory/],
      [new TextEncoder().encode(JSON.stringify({ v: 1, op: 'release', id: 'x/../y' })), /id/],
      [new TextEncoder().encode(JSON.stringify({ v: 2, op: 'get', id: makeAllocationId(b.id, 'xxxxxxxx') })), /v/],
      [new TextEncoder().encode(JSON.stringify({ v: 1, op: 'drop-table' })), /op/],
      [new TextEncoder().encode(JSON.stringify({ v: 1, op: 'get', id: makeAllocationId(b.id, 'xxxxxxxx'), extra: 1 })), /extra/],
      [new Uint8Array(20_000).fill(0x20), /larger than/]
    ]
    for (const [bytes, pattern] of frames) {
      const stream = await a.libp2p.dialProtocol(b.libp2p.getMultiaddrs(), ALLOC_PROTOCOL)
      const lp = lpStream(stream, { maxDataLength: 64 * 1024 })
      await lp.write(bytes)
      const res = decodeResponse((await lp.read()).subarray())
      await stream.close().catch(() => {})
      assert.equal(res.ok, false)
      assert.ok(!res.ok && res.error === 'bad-request', JSON.stringify(res))
      assert.match(!res.ok ? res.message : '', pattern)
    }
    assert.equal(b.service.ledger.list().length, 0)
    a.oracle.set(a.id, b.id, 1, 0)
    const ok = await a.service.allocate(req({ constraints: { cpu: 1, region: 'eu-west' } }))
    assert.deepEqual(ok.nodes.map(n => n.peerId), [b.id])
  })

  it('serves federation members only: callers without a verified descriptor are refused', async () => {
    const reserve = (owner: string, name = 'strangerx'): Uint8Array => new TextEncoder().encode(JSON.stringify({ v: 1, op: 'reserve', id: makeAllocationId(owner, name), cpu: 1, memoryMb: 1, leaseMs: 5000, constraints: {} }))
    const ask = async (from: MeshPeer['libp2p'], to: MeshPeer, bytes: Uint8Array): Promise<AllocResponse> => {
      const stream = await from.dialProtocol(to.libp2p.getMultiaddrs(), ALLOC_PROTOCOL)
      const lp = lpStream(stream)
      await lp.write(bytes)
      const res = decodeResponse((await lp.read()).subarray())
      await stream.close().catch(() => {})
      return res
    }
    // the default rule: the caller must have an entry in this peer's registry
    const own = new FakeRegistry()
    own.entries = [entryOf(b)]
    const f = await startPeer({ name: 'f', capacity: { cpu: 4, memoryMb: 100 }, registry: own, members: false })
    try {
      const fromA = await ask(a.libp2p, f, reserve(f.id))
      assert.ok(!fromA.ok && fromA.error === 'forbidden', JSON.stringify(fromA))
      const fromB = await ask(b.libp2p, f, reserve(f.id))
      assert.ok(fromB.ok, JSON.stringify(fromB))
      assert.equal(f.service.ledger.list().length, 1)
      // a caller whose descriptor has not reached f yet is asked for it (EndRegistry.learn) before it is refused
      const asked: string[] = []
      own.learn = async (peerId) => {
        asked.push(peerId)
        if (peerId !== c.id) return undefined
        own.put(entryOf(c))
        return entryOf(c)
      }
      const fromC = await ask(c.libp2p, f, reserve(f.id, 'strangery'))
      assert.ok(fromC.ok, JSON.stringify(fromC))
      const fromA2 = await ask(a.libp2p, f, reserve(f.id, 'strangerz'))
      assert.ok(!fromA2.ok && fromA2.error === 'forbidden', JSON.stringify(fromA2))
      assert.deepEqual(asked, [c.id, a.id], 'only callers it did not know were looked up')
      assert.equal(f.service.ledger.list().length, 2)
    } finally {
      await stopPeer(f)
    }
  })

  it('measures latency from another peer or from a region when asked (no probe possible there)', async () => {
    a.oracle.set(c.id, b.id, 5, 0)
    const fromC = await a.service.allocate(req({ constraints: { region: 'eu-west', latencyMs: 10, from: c.id } }), { explain: true })
    assert.deepEqual(fromC.nodes.map(n => n.peerId), [b.id])
    assert.equal(fromC.explanation?.from, c.id)
    const fromRegion = await a.service.allocate(req({ constraints: { region: 'eu-west', latencyMs: 10, from: 'us-east' } }))
    assert.deepEqual(fromRegion.nodes.map(n => n.peerId), [b.id])
    // c itself is 0 ms from c
    const self = await a.service.allocate(req({ constraints: { latencyMs: 1, from: c.id } }))
    assert.deepEqual(self.nodes.map(n => n.peerId), [c.id])

    a.oracle.set(c.id, b.id, 9, 3) // borderline, and nobody can probe from c
    await assert.rejects(a.service.allocate(req({ constraints: { region: 'eu-west', latencyMs: 10, from: c.id } })), (err: unknown) => {
      assert.ok(err instanceof NoPlacementError)
      assert.equal(err.explanation.removed.latency, 1)
      return true
    })
    assert.equal(a.oracle.probed.length, 0)
    await assert.rejects(a.service.allocate(req({ constraints: { from: 'mars' } })), (err: unknown) => {
      assert.ok(err instanceof InvalidConstraintsError)
      assert.equal(err.field, 'constraints.from')
      return true
    })
  })

  it('an expired lease frees the capacity and the allocation is gone; metrics count it', async () => {
    let clock = Date.now()
    const metrics = new Registry()
    const e = await startPeer({ name: 'e', capacity: { cpu: 1, memoryMb: 100 }, registry, now: () => clock, metrics })
    try {
      registry.entries = [entryOf(e, { region: 'sa-east' })]
      const alloc = await a.service.allocate(req({ constraints: { cpu: 1 }, leaseMs: 5_000 }))
      await assert.rejects(a.service.allocate(req({ constraints: { cpu: 1 } })), NoPlacementError)
      clock += 4_000
      await c.service.renew(alloc.id) // from any peer, for the same lease length
      clock += 4_000
      assert.equal((await c.service.get(alloc.id)).id, alloc.id, 'renewed in time')
      clock += 1_001
      assert.deepEqual(await e.service.sweep(), [alloc.id])
      await assert.rejects(c.service.get(alloc.id), AllocationNotFoundError)
      assert.deepEqual(e.service.free(), { cpu: 1, memoryMb: 100 })
      const text = await metrics.metrics()
      assert.match(text, /dcis_alloc_reservations_total\{result="accepted"\} 1/)
      assert.match(text, /dcis_alloc_reservations_total\{result="capacity"\} 1/)
      assert.match(text, /dcis_alloc_reserved_cpu_cores 0/)
    } finally {
      await stopPeer(e)
    }
  })

  it('a peer whose datastore fails refuses (internal) and the placer moves on', async () => {
    class BrokenDatastore extends MemoryDatastore {
      broken = false
      override async put (key: Key, value: Uint8Array): Promise<Key> {
        if (this.broken) throw new Error('disk full')
        return super.put(key, value)
      }
    }
    const ds = new BrokenDatastore()
    const g = await startPeer({ name: 'g', capacity: { cpu: 8, memoryMb: 8192 }, registry, datastore: ds })
    try {
      ds.broken = true
      registry.entries = [...registry.entries, entryOf(g, { region: 'eu-west', zone: 'eu-west-g', freeCpu: 8 })]
      a.oracle.set(a.id, g.id, 1, 0).set(a.id, b.id, 30, 0).set(a.id, c.id, 60, 0)
      const alloc = await a.service.allocate(req({ constraints: { cpu: 1 } }), { explain: true })
      assert.deepEqual(alloc.nodes.map(n => n.peerId), [b.id])
      assert.equal(alloc.explanation?.refused, 1)
      assert.equal(g.service.ledger.list().length, 0)
    } finally {
      await stopPeer(g)
    }
  })

  it('an aborted placement gives back the replicas it had reserved', async () => {
    a.oracle.set(a.id, b.id, 5, 0).set(a.id, c.id, 9, 3)
    const controller = new AbortController()
    const probe = a.oracle.probe.bind(a.oracle)
    a.oracle.probe = async (peerId, options) => {
      controller.abort() // the client went away while c was being probed
      return probe(peerId, options)
    }
    try {
      await assert.rejects(a.service.allocate(req({ constraints: { latencyMs: 10 }, replicas: 2 }), { signal: controller.signal }), (err: unknown) => (err as Error).name === 'AbortError')
      assert.equal(b.service.ledger.list().length, 0, 'b\'s reservation was released')
      assert.equal(c.service.ledger.list().length, 0)
    } finally {
      a.oracle.probe = probe
    }
  })

  it('a trust level lowered in place (a revocation list arrived) is seen by the next placement', async () => {
    const eb = entryOf(b, { region: 'eu-west', zone: 'eu-west-a', freeCpu: 3, freeMemoryMb: 3000, trust: 3 })
    registry.entries = [eb]
    const first = await a.service.allocate(req({ constraints: { cpu: 1, trust: 3 } }))
    assert.deepEqual(first.nodes.map(n => n.peerId), [b.id])
    await a.service.release(first.id)
    // EndRegistry.reevaluateTrust() updates the held entry object, it does not replace it
    eb.trustLevel = 0
    await assert.rejects(a.service.allocate(req({ constraints: { cpu: 1, trust: 3 } })), NoPlacementError)
  })

  it('allocations survive a restart of the owning peer (LevelDatastore)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dcis-alloc-'))
    const ds1 = new LevelDatastore(join(dir, 'ds'))
    await ds1.open()
    let d: MeshPeer | undefined = await startPeer({ name: 'd', capacity: { cpu: 2, memoryMb: 1024 }, registry, datastore: ds1, oracle: new FakeOracle() })
    try {
      registry.entries = [entryOf(d, { region: 'ap-south', zone: 'ap-south-a' })]
      const alloc = await a.service.allocate(req({ constraints: { cpu: 2, region: 'ap-south' }, leaseMs: 600_000 }))
      assert.equal(alloc.id.split('.')[0], d.id)
      const key = d.key
      await stopPeer(d)
      await ds1.close()
      d = undefined
      await assert.rejects(c.service.get(alloc.id), AllocationPeerError, 'owner down')

      const ds2 = new LevelDatastore(join(dir, 'ds'))
      await ds2.open()
      d = await startPeer({ name: 'd', capacity: { cpu: 2, memoryMb: 1024 }, registry, datastore: ds2, key })
      registry.entries = [entryOf(d, { region: 'ap-south', zone: 'ap-south-a' })]
      const got = await c.service.get(alloc.id)
      assert.equal(got.id, alloc.id)
      assert.equal(got.expiresAt, alloc.expiresAt)
      assert.deepEqual(d.service.free(), { cpu: 0, memoryMb: 1024 }, 'the reservation still holds the capacity')
      await assert.rejects(a.service.allocate(req({ constraints: { cpu: 1, region: 'ap-south' } })), NoPlacementError)
      await a.service.release(alloc.id)
      assert.deepEqual(d.service.free(), { cpu: 2, memoryMb: 1024 })
    } finally {
      if (d != null) {
        await stopPeer(d)
        await (d.datastore as LevelDatastore).close()
      }
      await rm(dir, { recursive: true, force: true })
    }
  })
})
