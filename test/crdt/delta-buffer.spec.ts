/**
 * DeltaBuffer: back-propagation avoidance (BP), redundancy removal (RR),
 * full state for new or evicted neighbours, bounded memory, and a lossy
 * gossip simulation that must converge.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { CrdtArgumentError, DeltaBuffer, equals, join, orset, pncounter, value } from '../../src/crdt/index.js'
import type { Crdt, DeltaGroup, ORSet, PNCounter } from '../../src/crdt/index.js'
import { check, MODELS, prng, REPLICAS } from './support.js'

describe('crdt DeltaBuffer', () => {
  it('never sends a delta back to the neighbour it came from (BP)', () => {
    const buf = new DeltaBuffer<PNCounter>()
    buf.addNeighbour('B', { synced: true })
    buf.addNeighbour('C', { synced: true })
    let s = pncounter.bottom()
    const local = pncounter.add(s, 'A', 5)
    s = join(s, local)
    buf.recordLocal(local)
    const fromB = pncounter.add(pncounter.bottom(), 'B', 7)
    const novel = buf.recordReceived(fromB, 'B', s)
    assert.ok(novel != null)
    s = join(s, novel)
    const toB = buf.outgoing('B', s)
    const toC = buf.outgoing('C', s)
    assert.ok(toB != null && toC != null)
    assert.equal(toB.full, false)
    assert.equal(pncounter.value(toB.state), 5, 'B gets only A\'s own delta')
    assert.equal(pncounter.value(toC.state), 12, 'C gets both')
    assert.throws(() => buf.outgoing('nobody', s), CrdtArgumentError)
  })

  it('drops received state that is already known (RR) and buffers only the new part', () => {
    const buf = new DeltaBuffer<ORSet>()
    buf.addNeighbour('B', { synced: true })
    let s: ORSet = orset.bottom()
    for (const e of ['x', 'y']) { const d = orset.add(s, 'A', e); s = join(s, d) }
    // B sends back a group containing what we have plus one new element
    let b: ORSet = join(orset.bottom(), s)
    const bz = orset.add(b, 'B', 'z')
    b = join(b, bz)
    assert.equal(buf.recordReceived(s, 'B', s), null, 'fully known delta is dropped')
    assert.equal(buf.stats().redundantDropped, 1)
    const novel = buf.recordReceived(b, 'B', s)
    assert.ok(novel != null)
    assert.deepEqual(value(novel), ['z'], 'only the new element is kept')
    assert.ok(equals(join(s, novel), join(s, b)))
  })

  it('sends the full state to a new neighbour until it acknowledges, then deltas', () => {
    const buf = new DeltaBuffer<PNCounter>()
    let s = pncounter.bottom()
    const d1 = pncounter.add(s, 'A', 1); s = join(s, d1); buf.recordLocal(d1)
    buf.addNeighbour('N')
    const m1 = buf.outgoing('N', s)
    assert.ok(m1?.full === true && pncounter.value(m1.state) === 1)
    const d2 = pncounter.add(s, 'A', 2); s = join(s, d2); buf.recordLocal(d2)
    assert.equal(buf.outgoing('N', s)?.full, true, 'no ack yet: full again')
    buf.ack('N', m1.seq) // the first full state arrived, d2 is still pending
    const m3 = buf.outgoing('N', s)
    assert.ok(m3 != null && !m3.full)
    assert.ok(equals(m3.state, d2), 'only the pending delta')
    buf.ack('N', m3.seq)
    assert.equal(buf.outgoing('N', s), null)
    assert.equal(buf.stats().entries, 0, 'acknowledged entries are collected')
  })

  it('keeps memory bounded and falls back to the full state for a lagging neighbour', () => {
    const buf = new DeltaBuffer<PNCounter>({ maxEntries: 4 })
    buf.addNeighbour('fast', { synced: true })
    buf.addNeighbour('slow', { synced: true })
    let s = pncounter.bottom()
    for (let i = 0; i < 20; i++) {
      const d = pncounter.add(s, 'A', 1); s = join(s, d); buf.recordLocal(d)
      const m = buf.outgoing('fast', s)
      if (m != null) buf.ack('fast', m.seq)
      assert.ok(buf.stats().entries <= 4)
    }
    const m = buf.outgoing('slow', s)
    assert.ok(m?.full === true)
    assert.equal(pncounter.value(m.state), 20)
    assert.ok(buf.stats().evicted > 0)
    const byBytes = new DeltaBuffer<PNCounter>({ maxBytes: 100 })
    byBytes.addNeighbour('x', { synced: true })
    for (let i = 0; i < 50; i++) byBytes.recordLocal(pncounter.add(s, 'A', 1))
    assert.ok(byBytes.stats().bytes <= 100)
  })

  describe('lossy gossip on a ring converges', () => {
    for (const model of MODELS.filter((m) => ['pncounter', 'orset', 'ormap<ccounter>', 'mvregister'].includes(m.name))) {
      it(model.name, () => {
        check(fc.property(fc.array(fc.tuple(fc.nat(4), model.op), { maxLength: 40 }), fc.nat(), (ops, netSeed) => {
          const rnd = prng(netSeed)
          const n = 5
          const states: Crdt[] = Array.from({ length: n }, () => model.bottom())
          const bufs = states.map(() => new DeltaBuffer<Crdt>({ maxEntries: 8 }))
          const neigh = (i: number): number[] => [(i + 1) % n, (i + n - 1) % n]
          bufs.forEach((b, i) => { for (const j of neigh(i)) b.addNeighbour(String(j), { synced: true }) })
          type Msg = { kind: 'data', from: number, to: number, m: DeltaGroup<Crdt> } | { kind: 'ack', from: number, to: number, seq: number }
          let net: Msg[] = []
          let all = model.bottom()
          const round = (loss: number): number => {
            let sent = 0
            for (let i = 0; i < n; i++) {
              for (const j of neigh(i)) {
                const m = bufs[i].outgoing(String(j), states[i])
                if (m != null) { net.push({ kind: 'data', from: i, to: j, m }); sent++ }
              }
            }
            const inflight = net
            net = []
            // reorder, duplicate, drop
            inflight.sort(() => rnd() - 0.5)
            for (const msg of inflight) {
              const copies = rnd() < loss ? 0 : rnd() < loss ? 2 : 1
              for (let c = 0; c < copies; c++) {
                if (msg.kind === 'ack') { bufs[msg.to].ack(String(msg.from), msg.seq); continue }
                const novel = bufs[msg.to].recordReceived(msg.m.state, String(msg.from), states[msg.to])
                if (novel != null) states[msg.to] = join(states[msg.to], novel)
                net.push({ kind: 'ack', from: msg.to, to: msg.from, seq: msg.m.seq })
              }
            }
            return sent
          }
          ops.forEach(([r, op], step) => {
            const d = model.mutate(states[r], REPLICAS[r % REPLICAS.length] + r, op, step)
            states[r] = join(states[r], d)
            all = join(all, d)
            bufs[r].recordLocal(d)
            if (step % 3 === 0) round(0.3)
          })
          // network heals: rounds until quiet
          let rounds = 0
          while ((round(0) > 0 || net.length > 0) && rounds < 100) rounds++
          assert.ok(rounds < 100, 'gossip did not quiesce')
          for (const s of states) assert.ok(equals(s, all), `replica diverged after ${rounds} clean rounds`)
          for (const b of bufs) assert.equal(b.stats().entries, 0, 'buffers drain once everything is acknowledged')
        }), 40)
      })
    }
  })
})
