/**
 * The reservation client for service replicas (src/scheduler/client.ts) over
 * real libp2p peers, and the trust minimum: only federation members whose
 * verified descriptor has trust >= scheduler.minReserveTrust may reserve.
 */
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { MemoryDatastore } from 'datastore-core'
import { createAllocationService, reservationId, ServiceReservations } from '../../src/scheduler/index.js'
import type { AllocationService } from '../../src/scheduler/index.js'
import { FakeOracle } from './fixtures.js'
import { entryOf, FakeRegistry, silent, startLibp2p } from './mesh.js'
import type { Libp2p } from '@libp2p/interface'

interface P { libp2p: Libp2p, service: AllocationService, id: string }

describe('scheduler: reservations of service replicas (client) and the trust minimum', function () {
  this.timeout(30_000)
  const registry = new FakeRegistry()
  let low: P
  let high: P
  let target: P

  async function start (minTrust?: number): Promise<P> {
    const libp2p = await startLibp2p(await generateKeyPair('Ed25519'))
    const service = createAllocationService({ libp2p, datastore: new MemoryDatastore(), registry, oracle: new FakeOracle(), logger: silent }, { capacity: { cpu: 1, memoryMb: 1024 }, callTimeoutMs: 5000, minTrust })
    await service.start()
    return { libp2p, service, id: libp2p.peerId.toString() }
  }

  before(async () => {
    low = await start()
    high = await start()
    target = await start(2)
    registry.put(entryOf(low, { trust: 1 }))
    registry.put(entryOf(high, { trust: 3 }))
    registry.put(entryOf(target, { trust: 0, region: 'us-east', zone: 'us-east-a' }))
  })

  after(async () => {
    for (const p of [low, high, target]) {
      await p.service.stop()
      await p.libp2p.stop()
    }
  })

  it('a member below the trust minimum is refused; one above reserves and commits the node', async () => {
    assert.equal(await new ServiceReservations(low.service).reserve(target.id, 'crdt.scores'), false)
    assert.equal(target.service.ledger.list().length, 0)
    const client = new ServiceReservations(high.service)
    assert.equal(await client.reserve(target.id, 'crdt.scores'), true)
    const r = target.service.ledger.get(reservationId(target.id, 'crdt.scores'))
    assert.ok(r !== undefined)
    assert.equal(r.cpu, 0.1)
    assert.equal(r.memoryMb, 64)
    assert.equal(r.placer, high.id)
    assert.deepEqual(r.nodes, [{ peerId: target.id, region: 'us-east', zone: 'us-east-a' }])
    assert.deepEqual(target.service.free(), { cpu: 0.9, memoryMb: 960 })
    // a retry is idempotent
    assert.equal(await client.reserve(target.id, 'crdt.scores'), true)
    assert.equal(target.service.ledger.list().length, 1)
    await client.release(target.id, 'crdt.scores')
    assert.deepEqual(target.service.free(), { cpu: 1, memoryMb: 1024 })
  })

  it('the holder keeps its own reservation (reserves if missing, keeps an existing one) and drops it', async () => {
    const own = new ServiceReservations(target.service, { cpu: 0.25, memoryMb: 128 })
    await own.hold('raft.ledger')
    const id = reservationId(target.id, 'raft.ledger')
    const first = target.service.ledger.get(id)
    assert.ok(first !== undefined)
    await own.hold('raft.ledger')
    assert.equal(target.service.ledger.get(id)?.expiresAt, first.expiresAt, 'no renewal before half the lease')
    assert.deepEqual(target.service.free(), { cpu: 0.75, memoryMb: 896 })
    await own.drop('raft.ledger')
    assert.equal(target.service.ledger.get(id), undefined)
    assert.deepEqual(target.service.free(), { cpu: 1, memoryMb: 1024 })
  })

  it('a full peer refuses (capacity) and the client says so', async () => {
    const big = new ServiceReservations(high.service, { cpu: 2 })
    assert.equal(await big.reserve(target.id, 'crdt.too-big'), false)
  })
})
