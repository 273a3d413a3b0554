/**
 * The pure parts of CRDT replication: wire formats (strict decoding of bad
 * input), staleness accounting, placement, catalogue entries, RPC frames.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { ccounter, digest, ormap, orset } from '../../src/crdt/index.js'
import type { CCounter, ORSet } from '../../src/crdt/index.js'
import {
  addCounter, addCounters, applyDelta, bottomState, CATALOGUE_SECTIONS, CatalogueEntryError, checkSpec, counterValue, decodeGossip,
  decodeSnapshot, decodeSyncFrame, encodeEntry, encodeGossip, encodeSnapshot, encodeSyncFrame, kvGet, kvPut, nextStamp,
  parseEntry, place, placeMore, sameSpec, PlacementError, ReplicationFrameError, revisionOf, SERVICE_SECTIONS, seqOf, StalenessTracker,
  encodeCursor, logAppend, logRead, logStamps, parseCursor
} from '../../src/crdt/replication/index.js'
import { decodeRpcRequest, decodeRpcResponse, encodeJson } from '../../src/crdt/service/rpc.js'
import type { ServiceSpec } from '../../src/services/types.js'

const SEED = Number(process.env.CRDT_SEED ?? 4242)
const spec: ServiceSpec = { name: 'leaderboard', replicas: 3, runtime: 'wasi', mode: 'eventual', crdtEngine: 'delta-crdts', zones: ['eu-west-a', 'us-east-a', 'ap-south-a'], maxStalenessMs: 200, latencyRadiusMs: 20 }

function isFrameOrDecodeError (err: unknown): boolean {
  return err instanceof ReplicationFrameError || (err as Error).name === 'CrdtDecodeError'
}

describe('crdt replication: wire formats', function () {
  const s0 = bottomState(SERVICE_SECTIONS)
  const delta = addCounter(s0, 'peer-a', 'alice', 5)

  it('round-trips deltas and heartbeats', function () {
    const bytes = encodeGossip({ kind: 'delta', seq: 1, hlc: { wall: 1000, logical: 2 }, delta })
    const m = decodeGossip(bytes, SERVICE_SECTIONS)
    assert.equal(m.kind, 'delta')
    assert.equal(m.seq, 1)
    assert.deepEqual(m.hlc, { wall: 1000, logical: 2 })
    if (m.kind !== 'delta') throw new Error('unreachable')
    assert.equal(counterValue(applyDelta(s0, m.delta), 'alice'), 5)
    assert.equal(m.delta[1], null)
    const hb = decodeGossip(encodeGossip({ kind: 'heartbeat', seq: 9, hlc: { wall: 5, logical: 0 } }), SERVICE_SECTIONS)
    assert.deepEqual(hb, { kind: 'heartbeat', seq: 9, hlc: { wall: 5, logical: 0 } })
  })

  it('rejects bad versions, kinds, masks, wrong section types, trailing bytes and oversize', function () {
    const good = encodeGossip({ kind: 'delta', seq: 1, hlc: { wall: 1000, logical: 0 }, delta })
    const cases: Array<[string, Uint8Array, string]> = [
      ['version', Uint8Array.from([2, ...good.subarray(1)]), 'version'],
      ['kind', Uint8Array.from([1, 9, ...good.subarray(2)]), 'kind'],
      ['trailing', Uint8Array.from([...good, 0]), ''],
      ['empty', new Uint8Array(0), '']
    ]
    for (const [what, bytes, field] of cases) {
      assert.throws(() => decodeGossip(bytes, SERVICE_SECTIONS), (err: unknown) => {
        assert.ok(isFrameOrDecodeError(err), `${what}: ${String(err)}`)
        if (field !== '') assert.equal((err as ReplicationFrameError).field, field)
        return true
      })
    }
    // a counter delta presented as the kv section
    const wrong = encodeGossip({ kind: 'delta', seq: 1, hlc: { wall: 1, logical: 0 }, delta: [null, delta[0], null] })
    assert.throws(() => decodeGossip(wrong, SERVICE_SECTIONS), { name: 'ReplicationFrameError', field: 'sections[1]' })
    // a mask naming a fourth section
    const w = encodeGossip({ kind: 'delta', seq: 1, hlc: { wall: 1, logical: 0 }, delta: [...delta, delta[0]] })
    assert.throws(() => decodeGossip(w, SERVICE_SECTIONS), { name: 'ReplicationFrameError', field: 'mask' })
    assert.throws(() => decodeGossip(good, SERVICE_SECTIONS, 8), { name: 'ReplicationFrameError', field: 'message' })
  })

  it('random and mutated bytes only ever give typed errors (seeded)', function () {
    const good = encodeGossip({ kind: 'delta', seq: 3, hlc: { wall: 1000, logical: 0 }, delta })
    const property = fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 }), (random, at, b) => {
      for (const bytes of [random, Uint8Array.from(good.map((x, i) => i === at ? b : x))]) {
        try {
          decodeGossip(bytes, SERVICE_SECTIONS)
          decodeSyncFrame(bytes, () => SERVICE_SECTIONS)
        } catch (err) {
          if (!isFrameOrDecodeError(err)) throw err
        }
      }
    })
    fc.assert(property, { seed: SEED, numRuns: 500 })
  })

  it('sync frames round-trip and refuse objects not replicated here', function () {
    const s = applyDelta(s0, delta)
    const frame = encodeSyncFrame({ kind: 'reply', object: 'leaderboard', parts: [{ mode: 'delta', state: s.sections[0] }, { mode: 'none' }, { mode: 'full', state: s.sections[2] }, { mode: 'none' }], digests: s.sections.map(m => digest(m)) })
    const back = decodeSyncFrame(frame, (o) => o === 'leaderboard' ? SERVICE_SECTIONS : undefined)
    assert.equal(back.kind, 'reply')
    if (back.kind !== 'reply') throw new Error('unreachable')
    assert.deepEqual(back.parts.map(p => p.mode), ['delta', 'none', 'full', 'none'])
    assert.throws(() => decodeSyncFrame(frame, () => undefined), { name: 'ReplicationFrameError', field: 'object' })
    // digests of the wrong count
    const bad = encodeSyncFrame({ kind: 'digest', object: 'x', digests: [digest(s.sections[0])] })
    assert.throws(() => decodeSyncFrame(bad, () => SERVICE_SECTIONS), { name: 'ReplicationFrameError', field: 'digests' })
    // catalogue digests presented for a service (wrong value type)
    const cat = bottomState(CATALOGUE_SECTIONS)
    const wrongType = encodeSyncFrame({ kind: 'digest', object: 'x', digests: SERVICE_SECTIONS.map(() => digest(cat.sections[0])) })
    assert.throws(() => decodeSyncFrame(wrongType, () => SERVICE_SECTIONS), { name: 'ReplicationFrameError', field: 'digests[0]' })
  })

  it('snapshots round-trip and a damaged one is a typed error', function () {
    let s = bottomState(SERVICE_SECTIONS)
    s = applyDelta(s, addCounter(s, 'a', 'k', -3))
    s = applyDelta(s, kvPut(s, 'a', 'title', { wall: 10, logical: 1 }, 'hello'))
    const bytes = encodeSnapshot(s, { wall: 10, logical: 1 })
    const back = decodeSnapshot(bytes, SERVICE_SECTIONS)
    assert.equal(counterValue(back.state, 'k'), -3)
    assert.equal(kvGet(back.state, 'title')?.value, 'hello')
    assert.deepEqual(back.clock, { wall: 10, logical: 1 })
    assert.throws(() => decodeSnapshot(bytes.subarray(0, bytes.length - 2), SERVICE_SECTIONS), (err: unknown) => isFrameOrDecodeError(err))
    assert.throws(() => decodeSnapshot(bytes, CATALOGUE_SECTIONS), { name: 'ReplicationFrameError', field: 'sections' })
  })

  it('a snapshot written before the logs section existed loads with empty logs; logs round-trip', function () {
    let s = bottomState(SERVICE_SECTIONS)
    s = applyDelta(s, addCounter(s, 'a', 'k', 4))
    const old = encodeSnapshot({ types: SERVICE_SECTIONS.slice(0, 3), sections: s.sections.slice(0, 3) }, { wall: 5, logical: 0 })
    const back = decodeSnapshot(old, SERVICE_SECTIONS)
    assert.equal(back.state.sections.length, SERVICE_SECTIONS.length)
    assert.equal(counterValue(back.state, 'k'), 4)
    assert.deepEqual(logRead(back.state, 'l', {}), [])
    const ts = logStamps(back.state, 'l', back.clock, 7, 2)
    const withLog = applyDelta(back.state, logAppend(back.state, 'a', 'l', ts, ['one', 'two']))
    const again = decodeSnapshot(encodeSnapshot(withLog, ts[1]), SERVICE_SECTIONS)
    assert.deepEqual(logRead(again.state, 'l', {}).map(e => e.value), ['one', 'two'])
    const cursor = encodeCursor(logRead(again.state, 'l', {})[0])
    assert.deepEqual(parseCursor(cursor), { ts: ts[0], replica: 'a', counter: 1 })
    for (const bad of ['', '1.2.3', '1.2.x.a', '99999999999999999.0.1.a', '1.2.3.a b']) assert.equal(parseCursor(bad), undefined, bad)
  })
})

describe('crdt replication: data model', function () {
  it('sequence numbers count an origin\'s updates over the sections', function () {
    let s = bottomState(SERVICE_SECTIONS)
    s = applyDelta(s, addCounter(s, 'a', 'x', 1))
    s = applyDelta(s, addCounter(s, 'a', 'y', 1))
    s = applyDelta(s, kvPut(s, 'a', 'k', { wall: 1, logical: 0 }, 'v'))
    const set = ormap.update<ORSet>(s.sections[2], 's', (v) => orset.add(v, 'b', 'm'))
    s = applyDelta(s, [null, null, set])
    assert.equal(seqOf(s, 'a'), 3)
    assert.equal(seqOf(s, 'b'), 1)
    assert.equal(seqOf(s, 'c'), 0)
  })

  it('kv revisions only grow per key, also after a concurrent write with a later clock', function () {
    let s = bottomState(SERVICE_SECTIONS)
    let last = 0
    let clock = { wall: 100, logical: 0 }
    for (let i = 0; i < 50; i++) {
      // a remote write with a clock far ahead, merged in
      if (i === 20) s = applyDelta(s, kvPut(s, 'remote', 'k', { wall: 5_000, logical: 3 }, 'r'))
      const ts = nextStamp(s, 'k', clock, 100 + i) // local physical time lags behind the remote's
      clock = ts
      s = applyDelta(s, kvPut(s, 'local', 'k', ts, `v${i}`))
      const rev = revisionOf(kvGet(s, 'k')?.ts ?? { wall: 0, logical: 0 })
      assert.ok(rev > last, `revision ${rev} after ${last} at write ${i}`)
      assert.equal(kvGet(s, 'k')?.value, `v${i}`)
      last = rev
    }
  })
})

describe('crdt replication: staleness', function () {
  it('is the age of the oldest advertised update not yet seen, and 0 once caught up', function () {
    const t = new StalenessTracker()
    let seen = 0
    t.observe('a', { seq: 3, wallMs: 1000 }, 1000)
    t.observe('a', { seq: 5, wallMs: 1100 }, 1100)
    assert.equal(t.staleness(() => seen, 1150), 150)
    seen = 3
    assert.equal(t.staleness(() => seen, 1150), 50)
    seen = 5
    assert.equal(t.staleness(() => seen, 1150), 0)
    assert.equal(t.staleness(() => seen, 99_999), 0)
    assert.deepEqual([...t.silence(1200)], [['a', 100]])
  })

  it('keeps the oldest advertisements when bounded', function () {
    const t = new StalenessTracker({ maxPending: 2 })
    for (let i = 1; i <= 10; i++) t.observe('a', { seq: i, wallMs: i * 10 }, i * 10)
    assert.equal(t.staleness(() => 0, 150), 140)
    // the newest advertisement stays as the last slot's bound: seq 10 at 100
    assert.equal(t.staleness(() => 1, 150), 50)
    assert.equal(t.staleness(() => 10, 150), 0)
  })
})

describe('crdt replication: placement and catalogue', function () {
  const cands = [
    { peerId: 'p5', region: 'sa-east', zone: 'sa-east-a', load: 0 },
    { peerId: 'p4', region: 'eu-west', zone: 'eu-west-a', load: 2 },
    { peerId: 'p1', region: 'eu-west', zone: 'eu-west-a', load: 0 },
    { peerId: 'p2', region: 'us-east', zone: 'us-east-a', load: 0 },
    { peerId: 'p3', region: 'ap-south', zone: 'ap-south-a', load: 1 }
  ]

  it('one replica per listed zone first (least loaded), then more in the listed zones, never outside them; deterministic', function () {
    assert.deepEqual(place(spec, cands), ['p1', 'p2', 'p3'])
    assert.deepEqual(place({ replicas: 4, zones: spec.zones }, cands), ['p1', 'p2', 'p3', 'p4'])
    // residency: p5 (sa-east) is in no listed zone, so 5 replicas leave the service one short
    assert.deepEqual(place({ replicas: 5, zones: spec.zones }, cands), ['p1', 'p2', 'p3', 'p4'])
    assert.deepEqual(place({ replicas: 2, zones: [] }, cands), ['p1', 'p2'])
    assert.deepEqual(place({ replicas: 9, zones: [] }, cands).length, 5)
    assert.deepEqual(place(spec, [...cands].reverse()), ['p1', 'p2', 'p3'])
    assert.throws(() => place({ replicas: 9, zones: ['nowhere'] }, cands), PlacementError)
    assert.throws(() => place(spec, []), PlacementError)
  })

  it('zones entries match a region or a zone: the article\'s leaderboard gets one replica per listed region, none in eu-west', function () {
    const mesh = [
      { peerId: 'a', region: 'us-east', zone: 'us-east-a', load: 0 },
      { peerId: 'b', region: 'eu-central', zone: 'eu-central-a', load: 0 },
      { peerId: 'c', region: 'ap-southeast', zone: 'ap-southeast-a', load: 0 },
      { peerId: 'd', region: 'eu-west', zone: 'eu-west-a', load: 0 }
    ]
    const zones = ['us-east', 'eu-central', 'ap-southeast']
    for (const order of [mesh, [...mesh].reverse()]) assert.deepEqual(place({ replicas: 3, zones }, order), ['a', 'b', 'c'])
    // a listed region with no peer: short, never spilled to eu-west
    assert.deepEqual(place({ replicas: 3, zones: ['us-east', 'eu-central', 'sa-east'] }, mesh), ['a', 'b'])
    // mixing a zone and a region
    assert.deepEqual(place({ replicas: 2, zones: ['eu-west-a', 'us-east'] }, mesh), ['d', 'a'])
  })

  it('placeMore keeps the existing replicas and fills the listed zones they lack first', function () {
    const at = new Map(cands.map(c => [c.peerId, c]))
    // p2 (us-east-a) died: the replacement must come from us-east-a if possible; none is left, so another listed zone
    const live = cands.filter(c => c.peerId !== 'p2')
    assert.deepEqual(placeMore(spec, ['p1', 'p3'], at, live), ['p1', 'p3', 'p4'])
    // growing 3 -> 4 without moving anything
    assert.deepEqual(placeMore({ replicas: 4, zones: [] }, ['p3', 'p4', 'p5'], at, cands), ['p3', 'p4', 'p5', 'p1'])
    // nothing eligible left: stays short
    assert.deepEqual(placeMore(spec, ['p1'], at, [cands[2]]), ['p1'])
  })

  it('catalogue entries are validated field by field', function () {
    const entry = { spec, replicas: ['p1', 'p2'], placedBy: 'p1' }
    assert.deepEqual(parseEntry(encodeEntry(entry), 'leaderboard'), entry)
    const repaired = { ...entry, retired: ['p3'] }
    assert.deepEqual(parseEntry(encodeEntry(repaired), 'leaderboard'), repaired)
    const bad: Array<[unknown, string]> = [
      [JSON.stringify({ ...entry, retired: 'p3' }), 'retired'],
      [JSON.stringify({ ...entry, retired: Array.from({ length: 17 }, (_, i) => `p${i}`) }), 'retired'],
      [JSON.stringify({ ...entry, retired: [''] }), 'retired[0]'],
      ['{', 'entry'],
      [JSON.stringify({ ...entry, replicas: [] }), 'replicas'],
      [JSON.stringify({ ...entry, replicas: ['p1', 'p1'] }), 'replicas'],
      [JSON.stringify({ ...entry, spec: { ...spec, replicas: 0 } }), 'spec.replicas'],
      [JSON.stringify({ ...entry, spec: { ...spec, maxStalenessMs: -1 } }), 'spec.maxStalenessMs'],
      [JSON.stringify({ ...entry, spec: { ...spec, mode: 'strong' } }), 'spec.mode'],
      [JSON.stringify({ ...entry, spec: { ...spec, zones: [''] } }), 'spec.zones[0]'],
      [JSON.stringify({ ...entry, spec: { ...spec, name: 'Bad_Name' } }), 'spec.name'],
      [JSON.stringify({ ...entry, placedBy: 7 }), 'placedBy'],
      [42, 'entry']
    ]
    for (const [json, field] of bad) {
      assert.throws(() => parseEntry(json, 'leaderboard'), (err: unknown) => err instanceof CatalogueEntryError && err.field === field, `${String(json)} -> ${field}`)
    }
    assert.throws(() => parseEntry(encodeEntry(entry), 'other'), { name: 'CatalogueEntryError', field: 'spec.name' })
    assert.throws(() => checkSpec({ ...spec, crdtEngine: 'yjs' }), { name: 'CatalogueEntryError', field: 'spec.crdtEngine' })
    // log retention: optional, validated, part of the spec's identity
    assert.deepEqual(checkSpec({ ...spec, logRetention: { maxEntries: 10 } }).logRetention, { maxEntries: 10 })
    assert.throws(() => checkSpec({ ...spec, logRetention: { maxAgeMs: 0 } }), { name: 'CatalogueEntryError', field: 'spec.logRetention.maxAgeMs' })
    assert.throws(() => checkSpec({ ...spec, logRetention: [] }), { name: 'CatalogueEntryError', field: 'spec.logRetention' })
    assert.ok(!sameSpec(checkSpec(spec), checkSpec({ ...spec, logRetention: { maxEntries: 10 } })))
  })
})

describe('crdt replication: rpc frames', function () {
  it('accepts good requests and names the bad field', function () {
    assert.deepEqual(decodeRpcRequest(encodeJson({ v: 1, op: 'addCounter', service: 's', key: 'k', delta: -3 })), { v: 1, op: 'addCounter', service: 's', key: 'k', delta: -3 })
    // the caller's token rides along for re-authorisation on the replica
    assert.deepEqual(decodeRpcRequest(encodeJson({ v: 1, op: 'get', service: 's', key: 'k', token: 'a.b.c' })), { v: 1, op: 'get', service: 's', key: 'k', token: 'a.b.c' })
    const bad: Array<[unknown, string]> = [
      [{ v: 2, op: 'get', service: 's', key: 'k' }, 'v'],
      [{ v: 1, op: 'drop', service: 's', key: 'k' }, 'op'],
      [{ v: 1, op: 'get', key: 'k' }, 'service'],
      [{ v: 1, op: 'get', service: 's' }, 'key'],
      [{ v: 1, op: 'put', service: 's', key: 'k' }, 'value'],
      [{ v: 1, op: 'addCounter', service: 's', key: 'k', delta: 1.5 }, 'delta'],
      [{ v: 1, op: 'setAdd', service: 's', key: 'k' }, 'member'],
      [{ v: 1, op: 'put', service: 's', key: 'k', value: 'x', ifRevision: -1 }, 'ifRevision'],
      [{ v: 1, op: 'logAppend', service: 's', key: 'k', values: [] }, 'values'],
      [{ v: 1, op: 'logAppend', service: 's', key: 'k', values: [3] }, 'values[0]'],
      [{ v: 1, op: 'logRead', service: 's', key: 'k', range: { limit: 0 } }, 'limit'],
      [{ v: 1, op: 'logRead', service: 's', key: 'k', range: { after: { ts: { wall: 1 } } } }, 'range.after'],
      [{ v: 1, op: 'get', service: 's', key: 'k', token: 7 }, 'token'],
      [{ v: 1, op: 'get', service: 's', key: 'k', token: 'x'.repeat(64 * 1024 + 1) }, 'token'],
      [[1], 'frame']
    ]
    for (const [req, field] of bad) {
      assert.throws(() => decodeRpcRequest(encodeJson(req)), { name: 'ReplicationFrameError', field })
    }
    assert.throws(() => decodeRpcRequest(Uint8Array.from([0xff, 0xfe])), { name: 'ReplicationFrameError', field: 'frame' })
    const read = { v: 1, op: 'logRead', service: 's', key: 'k', range: { after: { ts: { wall: 5, logical: 0 }, replica: 'p', counter: 2 }, limit: 3 } }
    assert.deepEqual(decodeRpcRequest(encodeJson(read)), read)
    assert.deepEqual(decodeRpcResponse(encodeJson({ v: 1, ok: false, error: { name: 'RevisionMismatchError', message: 'm', actual: 4 } })), { v: 1, ok: false, error: { name: 'RevisionMismatchError', message: 'm', actual: 4 } })
    assert.throws(() => decodeRpcResponse(encodeJson({ v: 1, ok: 'yes' })), { name: 'ReplicationFrameError', field: 'ok' })
  })

  it('addCounters: one delta for a batch equals the counters added one by one, on every replica', function () {
    let a = bottomState(SERVICE_SECTIONS)
    a = applyDelta(a, addCounter(a, 'r1', 'x', 5))
    let b = a
    const batch: Array<[string, number]> = [['x', 2], ['y', 3], ['x', -1], ['z', 7]]
    const d = addCounters(a, 'r1', batch)
    a = applyDelta(a, d)
    for (const [k, n] of batch) b = applyDelta(b, addCounter(b, 'r1', k, n))
    for (const k of ['x', 'y', 'z']) assert.equal(counterValue(a, k), counterValue(b, k), k)
    // a replica that receives only the delta (after the earlier state) converges too
    let c = bottomState(SERVICE_SECTIONS)
    c = applyDelta(c, addCounter(c, 'r1', 'x', 5))
    c = applyDelta(c, d)
    assert.deepEqual(['x', 'y', 'z'].map(k => counterValue(c, k)), [6, 3, 7])
    // a second batch gets fresh dots
    a = applyDelta(a, addCounters(a, 'r1', [['y', 1], ['w', 1]]))
    assert.deepEqual(['x', 'y', 'z', 'w'].map(k => counterValue(a, k)), [6, 4, 7, 1])
  })

  it('counter deltas in an ORMap keep exact totals (sanity of the data model)', function () {
    let s = bottomState(SERVICE_SECTIONS)
    for (let i = 0; i < 10; i++) s = applyDelta(s, addCounter(s, `r${i % 3}`, 'x', i - 4))
    assert.equal(counterValue(s, 'x'), 5)
    assert.equal(ccounter.value(ormap.get<CCounter>(s.sections[0], 'x')), 5)
  })
})
