/**
 * Persistence of a replicated object: snapshot + append-only delta log on a
 * real LevelDatastore (fsync'd batches), group commit, compaction, recovery
 * by replay, damaged records.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LevelDatastore } from 'datastore-level'
import { Key } from 'interface-datastore'
import { addCounter, counterValue, decodeDeltaRecord, encodeDeltaRecord, encodeGossip, logAppend, logLength, ReplicationFrameError, SERVICE_SECTIONS } from '../../src/crdt/replication/index.js'
import { deltaPrefix, objectKey, ReplicatedObject } from '../../src/crdt/service/object.js'

const SEED = Number(process.env.CRDT_SEED ?? 1818)

function rng (seed: number): () => number {
  let s = seed >>> 0
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32 }
}

async function keysUnder (ds: LevelDatastore, prefix: string): Promise<string[]> {
  const out: string[] = []
  for await (const k of ds.queryKeys({ prefix })) out.push(k.toString())
  return out
}

describe('crdt: object persistence (snapshot + delta log)', function () {
  this.timeout(60_000)
  let dir: string
  let ds: LevelDatastore

  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), 'dcis-objlog-'))
    ds = new LevelDatastore(join(dir, 'db'))
    await ds.open()
  })

  afterEach(async function () {
    await ds.close()
    await rm(dir, { recursive: true, force: true })
  })

  /** a local write as the backend does it: apply, tick, persist the delta */
  async function write (obj: ReplicatedObject, key: string, n: number): Promise<void> {
    const d = addCounter(obj.state, 'peer-a', key, n)
    obj.apply(d)
    obj.clock = { wall: obj.clock.wall + 1, logical: 0 }
    await obj.persist(d)
  }

  it('concurrent writes share commits (group commit) and survive a reopen by replay', async function () {
    const obj = new ReplicatedObject('fleet', SERVICE_SECTIONS, ds)
    const rnd = rng(SEED)
    const expected = new Map<string, number>()
    const writes: Array<Promise<void>> = []
    for (let i = 0; i < 200; i++) {
      const key = `v${Math.floor(rnd() * 10)}`
      const n = 1 + Math.floor(rnd() * 5)
      expected.set(key, (expected.get(key) ?? 0) + n)
      writes.push(write(obj, key, n))
    }
    await Promise.all(writes)
    assert.ok(obj.stats.commits < 200, `200 concurrent writes took ${obj.stats.commits} commits (seed ${SEED})`)
    assert.equal(obj.stats.records, 200)
    assert.equal(obj.stats.snapshots, 0, 'small deltas do not rewrite the snapshot')
    assert.equal(await ds.has(objectKey('fleet')), false)
    assert.equal((await keysUnder(ds, deltaPrefix('fleet'))).length, 200)

    const again = new ReplicatedObject('fleet', SERVICE_SECTIONS, ds)
    assert.equal(await again.load(), true)
    for (const [k, v] of expected) assert.equal(counterValue(again.state, k), v, `${k} (seed ${SEED})`)
    assert.deepEqual(again.clock, obj.clock)
    // it keeps appending after the replayed records
    await write(again, 'v0', 1)
    const third = new ReplicatedObject('fleet', SERVICE_SECTIONS, ds)
    await third.load()
    assert.equal(counterValue(third.state, 'v0'), (expected.get('v0') ?? 0) + 1)
  })

  it('compacts into a snapshot and deletes the replayed records; recovery = snapshot + the rest', async function () {
    const obj = new ReplicatedObject('fleet', SERVICE_SECTIONS, ds, { compactMinBytes: 0, compactMaxRecords: 10 })
    for (let i = 0; i < 25; i++) await write(obj, 'k', 1)
    assert.ok(obj.stats.snapshots >= 2, `snapshots ${obj.stats.snapshots}`)
    assert.equal(await ds.has(objectKey('fleet')), true)
    assert.ok((await keysUnder(ds, deltaPrefix('fleet'))).length <= 10)
    const again = new ReplicatedObject('fleet', SERVICE_SECTIONS, ds)
    await again.load()
    assert.equal(counterValue(again.state, 'k'), 25)
    // a whole-state persist (e.g. after a sync) writes a snapshot and empties the log
    await obj.persist()
    assert.deepEqual(await keysUnder(ds, deltaPrefix('fleet')), [])
    const third = new ReplicatedObject('fleet', SERVICE_SECTIONS, ds)
    await third.load()
    assert.equal(counterValue(third.state, 'k'), 25)
  })

  it('a write costs its delta, not the object: appending to a large log writes small records', async function () {
    const obj = new ReplicatedObject('fleet', SERVICE_SECTIONS, ds)
    const values = Array.from({ length: 5000 }, (_, i) => `event-${i}`)
    const ts = values.map((_, i) => ({ wall: 1_000 + i, logical: 0 }))
    const d = logAppend(obj.state, 'peer-a', 'raw', ts, values)
    obj.apply(d)
    await obj.persist()
    const snapBytes = (await ds.get(objectKey('fleet'))).length
    const d2 = logAppend(obj.state, 'peer-a', 'raw', [{ wall: 10_000, logical: 0 }], ['one more'])
    obj.apply(d2)
    await obj.persist(d2)
    const [k] = await keysUnder(ds, deltaPrefix('fleet'))
    const recBytes = (await ds.get(new Key(k))).length
    assert.ok(recBytes * 50 < snapBytes, `record ${recBytes} B vs snapshot ${snapBytes} B`)
    const again = new ReplicatedObject('fleet', SERVICE_SECTIONS, ds)
    await again.load()
    assert.equal(logLength(again.state, 'raw'), 5001)
  })

  it('discard deletes the snapshot and every record', async function () {
    const obj = new ReplicatedObject('fleet', SERVICE_SECTIONS, ds, { compactMinBytes: 0, compactMaxRecords: 3 })
    for (let i = 0; i < 5; i++) await write(obj, 'k', 1)
    await obj.discard()
    assert.equal(await ds.has(objectKey('fleet')), false)
    assert.deepEqual(await keysUnder(ds, deltaPrefix('fleet')), [])
    assert.equal(await new ReplicatedObject('fleet', SERVICE_SECTIONS, ds).load(), false)
  })

  it('a damaged record is a ReplicationFrameError at load, never a crash', async function () {
    const obj = new ReplicatedObject('fleet', SERVICE_SECTIONS, ds)
    await write(obj, 'k', 1)
    const [k] = await keysUnder(ds, deltaPrefix('fleet'))
    const good = await ds.get(new Key(k))
    await ds.put(new Key(k), good.subarray(0, good.length - 1))
    await assert.rejects(new ReplicatedObject('fleet', SERVICE_SECTIONS, ds).load(), (err: unknown) => err instanceof ReplicationFrameError || (err as Error).name === 'CrdtDecodeError')
    await ds.put(new Key(k), Uint8Array.of(9, 1, 1))
    await assert.rejects(new ReplicatedObject('fleet', SERVICE_SECTIONS, ds).load(), { name: 'ReplicationFrameError' })
  })

  it('a received gossip delta is logged as it arrived and replays', async function () {
    const obj = new ReplicatedObject('fleet', SERVICE_SECTIONS, ds)
    const d = addCounter(obj.state, 'peer-b', 'k', 4)
    obj.apply(d)
    await obj.persist(d, encodeGossip({ kind: 'delta', seq: 1, hlc: { wall: 77, logical: 0 }, delta: d }))
    const again = new ReplicatedObject('fleet', SERVICE_SECTIONS, ds)
    await again.load()
    assert.equal(counterValue(again.state, 'k'), 4)
    assert.deepEqual(again.clock, { wall: 77, logical: 0 })
    assert.throws(() => decodeDeltaRecord(encodeGossip({ kind: 'heartbeat', seq: 1, hlc: { wall: 1, logical: 0 } }), SERVICE_SECTIONS), { name: 'ReplicationFrameError', field: 'kind' })
  })

  it('delta records round-trip and reject a bad section mask', function () {
    const d = addCounter(new ReplicatedObject('x', SERVICE_SECTIONS, ds).state, 'peer-a', 'k', 3)
    const back = decodeDeltaRecord(encodeDeltaRecord(d, { wall: 5, logical: 1 }), SERVICE_SECTIONS)
    assert.deepEqual(back.clock, { wall: 5, logical: 1 })
    assert.equal(back.delta.filter(x => x != null).length, 1)
    assert.throws(() => decodeDeltaRecord(Uint8Array.of(2, 0, 0, 0), SERVICE_SECTIONS), { name: 'ReplicationFrameError', field: 'mask' })
  })
})
