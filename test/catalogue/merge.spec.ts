/**
 * The catalogue's merge rule, on the pure layer (applyOps + viewOf):
 * concurrent deploys keep both versions and agree on the current one,
 * numbering follows HLC order, and any delivery order of the same deltas
 * gives the same view (fast-check, seeded: CATALOGUE_SEED, printed on
 * failure).
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { join } from '../../src/crdt/index.js'
import type { Hlc, ORMap } from '../../src/crdt/index.js'
import { applyOps, checkDelta, emptyState, keys, viewOf } from '../../src/catalogue/index.js'
import type { Op } from '../../src/catalogue/index.js'

const SEED = process.env.CATALOGUE_SEED != null ? Number(process.env.CATALOGUE_SEED) : 20261207
const RUNS = process.env.CATALOGUE_RUNS != null ? Number(process.env.CATALOGUE_RUNS) : 150

function check<Ts extends [unknown, ...unknown[]]> (prop: fc.IProperty<Ts>, runs = RUNS): void {
  try {
    fc.assert(prop, { seed: SEED, numRuns: runs })
  } catch (err) {
    console.error(`catalogue property failed with seed ${SEED}; replay with CATALOGUE_SEED=${SEED}`)
    throw err
  }
}

const CIDS = [
  'bafkreid5cgnvs3lxdklh2tlwfxtpwoekz5k6rz22jhiainukegftp2wd44',
  'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy',
  'bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy',
  'bafkreiabpwjxqw5qt2rfyiuwqp5ddfoj2ndcrq7a4sqxhwnudkmsbnfyjq'
]
const PEERS = ['12D3KooWAlpha', '12D3KooWBeta', '12D3KooWGamma']

function at (wall: number): string {
  return new Date(wall).toISOString()
}

/** a deploy of `cid` under `name` by `peer` at `ts`, as FederationCatalogue.deployVersion writes it */
function deployOps (name: string, cid: string, peer: string, ts: Hlc): Op[] {
  return [
    { key: keys.version(name, cid), value: { cid, abi: 'wasi', size: 100, deployedAt: at(ts.wall), deployedBy: peer, deployedHlc: [ts.wall, ts.logical] } },
    { key: keys.current(name), value: { id: cid, at: at(ts.wall), by: peer } },
    { key: keys.event(name, `${ts.wall}-${ts.logical}-${peer.slice(-8)}`), value: { at: at(ts.wall), by: peer, type: 'deployed', id: cid } }
  ]
}

interface Replica { peer: string, state: ORMap }

function replica (peer: string): Replica {
  return { peer, state: emptyState() }
}

function write (r: Replica, ts: Hlc, ops: Op[]): ORMap {
  const out = applyOps(r.state, r.peer, ts, ops)
  r.state = out.state
  assert.ok(out.delta != null)
  return out.delta
}

describe('catalogue merge (pure)', () => {
  it('two peers deploy the same name concurrently: both versions survive, the later HLC is current on both', () => {
    const a = replica(PEERS[0])
    const b = replica(PEERS[1])
    const da = write(a, { wall: 1000, logical: 0 }, deployOps('echo', CIDS[0], a.peer, { wall: 1000, logical: 0 }))
    const db = write(b, { wall: 1005, logical: 0 }, deployOps('echo', CIDS[1], b.peer, { wall: 1005, logical: 0 }))
    a.state = join(a.state, db)
    b.state = join(b.state, da)
    const va = viewOf(a.state).functions.get('echo')
    const vb = viewOf(b.state).functions.get('echo')
    assert.ok(va != null && vb != null)
    assert.deepEqual(va, vb)
    assert.equal(va.current, CIDS[1], 'the deploy with the later HLC is current')
    assert.deepEqual(va.versions.map(v => [v.version, v.cid]), [[1, CIDS[0]], [2, CIDS[1]]])
    assert.equal(va.events.length, 2)
  })

  it('equal HLC readings: the greater writer peer id wins the pointer (deterministic tie-break)', () => {
    const a = replica(PEERS[0])
    const b = replica(PEERS[1])
    const ts = { wall: 5000, logical: 3 }
    const da = write(a, ts, deployOps('f', CIDS[2], a.peer, ts))
    const db = write(b, ts, deployOps('f', CIDS[3], b.peer, ts))
    const v1 = viewOf(join(a.state, db)).functions.get('f')
    const v2 = viewOf(join(b.state, da)).functions.get('f')
    assert.deepEqual(v1, v2)
    assert.equal(v1?.current, CIDS[3], `${PEERS[1]} > ${PEERS[0]}`)
  })

  it('a rollback after a deploy (causally later) moves the pointer everywhere; a re-deploy of a known cid keeps its number', () => {
    const a = replica(PEERS[0])
    const b = replica(PEERS[1])
    b.state = join(b.state, write(a, { wall: 10, logical: 0 }, deployOps('g', CIDS[0], a.peer, { wall: 10, logical: 0 })))
    a.state = join(a.state, write(b, { wall: 20, logical: 0 }, deployOps('g', CIDS[1], b.peer, { wall: 20, logical: 0 })))
    assert.equal(viewOf(a.state).functions.get('g')?.current, CIDS[1])
    const rb = write(a, { wall: 30, logical: 0 }, [{ key: keys.current('g'), value: { id: CIDS[0], at: at(30), by: a.peer } }, { key: keys.good('g', CIDS[0]), value: { at: at(30), by: a.peer } }])
    b.state = join(b.state, rb)
    const v = viewOf(b.state).functions.get('g')
    assert.equal(v?.current, CIDS[0])
    assert.deepEqual(v?.versions.map(x => [x.version, x.knownGood]), [[1, true], [2, false]])
  })

  it('a pointer to a version not received yet falls back to the newest version it has', () => {
    const a = replica(PEERS[0])
    write(a, { wall: 1, logical: 0 }, deployOps('h', CIDS[0], a.peer, { wall: 1, logical: 0 }))
    const pointer = applyOps(a.state, PEERS[1], { wall: 2, logical: 0 }, [{ key: keys.current('h'), value: { id: CIDS[1], at: at(2), by: PEERS[1] } }])
    assert.equal(viewOf(pointer.state).functions.get('h')?.current, CIDS[0])
  })

  it('manifests: put, replace (LWW), remove (observed-remove; a concurrent re-apply survives)', () => {
    const a = replica(PEERS[0])
    const b = replica(PEERS[1])
    const spec = { path: '/healthz', intervalSeconds: 5, failureThreshold: 3, recoveryAction: 'rollback' }
    const m = (n: number): Op => ({ key: keys.manifest('HealthCheck', 'hc'), value: { kind: 'HealthCheck', name: 'hc', spec: { ...spec, failureThreshold: n }, appliedAt: at(n), appliedBy: PEERS[0] } })
    b.state = join(b.state, write(a, { wall: 1, logical: 0 }, [m(3)]))
    const rm = write(a, { wall: 2, logical: 0 }, [{ key: keys.manifest('HealthCheck', 'hc'), remove: true }])
    const again = write(b, { wall: 2, logical: 0 }, [m(4)])
    const merged = join(join(a.state, again), join(b.state, rm))
    const v = viewOf(merged).manifests
    assert.equal(v.length, 1, 'the concurrent re-apply survives the remove')
    assert.equal((v[0].spec as { failureThreshold: number }).failureThreshold, 4)
  })

  it('property: any delivery order and duplication of the same deltas gives the same view on every replica', () => {
    const opArb = fc.record({
      peer: fc.nat({ max: PEERS.length - 1 }),
      kind: fc.constantFrom('deploy', 'rollback', 'good', 'manifest', 'unmanifest'),
      name: fc.constantFrom('echo', 'filter'),
      cid: fc.nat({ max: CIDS.length - 1 }),
      dt: fc.nat({ max: 3 })
    })
    check(fc.property(fc.array(opArb, { minLength: 1, maxLength: 25 }), fc.array(fc.nat(), { minLength: 1, maxLength: 40 }), (script, order) => {
      const reps = PEERS.map(replica)
      const clocks = PEERS.map(() => ({ wall: 1000, logical: 0 }))
      const deltas: ORMap[] = []
      let step = 0
      for (const o of script) {
        const r = reps[o.peer]
        // a peer sometimes hears what others wrote before it writes
        if (step % 3 === 0) for (const d of deltas) r.state = join(r.state, d)
        const prev = clocks[o.peer]
        const ts = o.dt === 0 ? { wall: prev.wall, logical: prev.logical + 1 } : { wall: prev.wall + o.dt, logical: 0 }
        clocks[o.peer] = ts
        const cid = CIDS[o.cid]
        let ops: Op[]
        if (o.kind === 'deploy') ops = deployOps(o.name, cid, r.peer, ts)
        else if (o.kind === 'rollback') ops = [{ key: keys.current(o.name), value: { id: cid, at: at(ts.wall), by: r.peer } }]
        else if (o.kind === 'good') ops = [{ key: keys.good(o.name, cid), value: { at: at(ts.wall), by: r.peer } }]
        else if (o.kind === 'manifest') ops = [{ key: keys.manifest('HealthCheck', o.name), value: { kind: 'HealthCheck', name: o.name, spec: { function: o.name, intervalSeconds: 1 + o.cid, failureThreshold: 1, recoveryAction: 'none' }, appliedAt: at(ts.wall), appliedBy: r.peer } }]
        else ops = [{ key: keys.manifest('HealthCheck', o.name), remove: true }]
        deltas.push(write(r, ts, ops))
        step++
      }
      // every replica receives every delta, in its own order (with repeats)
      const final = reps.map((r, i) => {
        let s = r.state
        for (let k = 0; k < order.length; k++) s = join(s, deltas[(order[k] + i * 7) % deltas.length])
        for (const d of deltas) s = join(s, d)
        return s
      })
      const views = final.map(s => viewOf(s))
      for (const v of views.slice(1)) {
        assert.deepEqual([...v.functions.entries()], [...views[0].functions.entries()])
        assert.deepEqual(v.manifests, views[0].manifests)
      }
      // versions are numbered 1..n without gaps; current is one of them
      for (const f of views[0].functions.values()) {
        assert.deepEqual(f.versions.map(v => v.version), f.versions.map((_, i) => i + 1))
        assert.ok(f.versions.some(v => v.cid === f.current))
      }
      for (const s of final) checkDelta(s)
    }))
  })
})

describe('catalogue records: bad input is refused with the field named', () => {
  const base = emptyState()
  const bad: Array<[string, string, unknown, RegExp]> = [
    ['unknown key', 'zz/echo', '{}', /not a catalogue key/],
    ['bad name', 'fn/Echo!/current', '{}', /not a catalogue key/],
    ['bad cid in key', 'fn/echo/v/not-a-cid', '{}', /not a catalogue key/],
    ['not JSON', keys.current('echo'), '{nope', /not JSON/],
    ['current without id', keys.current('echo'), JSON.stringify({ at: at(1), by: 'p' }), /id/],
    ['version cid differs from key', keys.version('echo', CIDS[0]), JSON.stringify({ cid: CIDS[1], abi: 'wasi', size: 1, deployedAt: at(1), deployedBy: 'p', deployedHlc: [1, 0] }), /cid/],
    ['version with unknown abi', keys.version('echo', CIDS[0]), JSON.stringify({ cid: CIDS[0], abi: 'jvm', size: 1, deployedAt: at(1), deployedBy: 'p', deployedHlc: [1, 0] }), /abi/],
    ['version with extra field', keys.version('echo', CIDS[0]), JSON.stringify({ cid: CIDS[0], abi: 'wasi', size: 1, deployedAt: at(1), deployedBy: 'p', deployedHlc: [1, 0], evil: true }), /unknown field/],
    ['event of unknown type', keys.event('echo', '1-0-abc'), JSON.stringify({ at: at(1), by: 'p', type: 'explode' }), /type/],
    ['manifest under the wrong name', keys.manifest('HealthCheck', 'a'), JSON.stringify({ kind: 'HealthCheck', name: 'b', spec: {}, appliedAt: at(1), appliedBy: 'p' }), /name/],
    ['huge value', keys.current('echo'), 'x'.repeat(70_000), /larger than/]
  ]
  for (const [what, key, value, re] of bad) {
    it(what, () => {
      const { delta } = applyOps(base, PEERS[0], { wall: 1, logical: 0 }, [])
      assert.equal(delta, undefined)
      // build the delta by hand: applyOps only writes objects, a hostile peer writes anything
      const d = applyOps(base, PEERS[0], { wall: 1, logical: 0 }, [{ key, value: {} }]).delta as ORMap
      const store = new Map(d.store)
      const entries = store.get(key) as Array<{ dot: unknown, value: { ts: Hlc, value: unknown } }>
      store.set(key, entries.map(e => ({ ...e, value: { ...e.value, value } })) as never)
      assert.throws(() => checkDelta({ ...d, store } as ORMap), re)
    })
  }

  it('a spec check refuses a manifest the schemas refuse', () => {
    const d = applyOps(base, PEERS[0], { wall: 1, logical: 0 }, [{ key: keys.manifest('HealthCheck', 'a'), value: { kind: 'HealthCheck', name: 'a', spec: { intervalSeconds: 5 }, appliedAt: at(1), appliedBy: 'p' } }]).delta as ORMap
    assert.throws(() => checkDelta(d, (_kind, spec) => { if (spec.failureThreshold == null) throw new Error('failureThreshold is required') }), /failureThreshold/)
  })
})
