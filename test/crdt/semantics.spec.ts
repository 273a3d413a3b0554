/**
 * Type-specific semantics: add-wins, tombstone-free compaction, exact
 * counter totals, register conflict rules, ORMap removal, HLC.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  ccounter, clwwRegister, contextSize, encodeCrdt, gcounter, hlc, HlcDriftError, join, lwwRegister,
  mvRegister, orset, ormap, pncounter, value, CrdtArgumentError, CrdtTypeMismatchError
} from '../../src/crdt/index.js'
import type { CCounter, ORMap, ORSet, PNCounter } from '../../src/crdt/index.js'
import { check, prng, SEED } from './support.js'

describe('crdt semantics', () => {
  describe('ORSet (add-wins, no tombstones)', () => {
    it('a concurrent add wins over a remove', () => {
      let a = orset.bottom()
      a = join(a, orset.add(a, 'A', 'x'))
      let b = join(orset.bottom(), a)
      // concurrently: A re-adds x, B removes x
      const addAgain = orset.add(a, 'A', 'x')
      const rm = orset.remove(b, 'x')
      a = join(a, addAgain)
      b = join(b, rm)
      assert.deepEqual(value(b), [])
      assert.deepEqual(value(join(a, b)), ['x'])
      assert.deepEqual(value(join(b, a)), ['x'])
    })

    it('a remove wins over the adds it observed; an unseen add by another replica survives', () => {
      let a = orset.bottom()
      a = join(a, orset.add(a, 'A', 'x'))
      let b = join(orset.bottom(), a)
      let c = orset.bottom()
      c = join(c, orset.add(c, 'C', 'x')) // C never saw A's add, B never saw C's
      b = join(b, orset.remove(b, 'x'))
      const all = join(join(a, b), c)
      assert.deepEqual(value(all), ['x'])
      assert.deepEqual(all.store.get('sx')?.dots, [{ replica: 'C', counter: 1 }])
    })

    it('matches a sequential set under any single-replica history', () => {
      check(fc.property(fc.array(fc.tuple(fc.boolean(), fc.constantFrom('a', 'b', 'c')), { maxLength: 60 }), (ops) => {
        let s: ORSet = orset.bottom()
        const model = new Set<string>()
        for (const [add, e] of ops) {
          s = join(s, add ? orset.add(s, 'R', e) : orset.remove(s, e))
          if (add) model.add(e); else model.delete(e)
        }
        assert.deepEqual(value(s), [...model].sort())
      }))
    })

    it('stays bounded after many add/remove cycles on 3 replicas (context compacts to a version vector)', () => {
      const rnd = prng(SEED)
      const ids = ['A', 'B', 'C']
      let states: ORSet[] = ids.map(() => orset.bottom())
      let cycles = 0
      for (let round = 0; round < 400; round++) {
        for (let i = 0; i < 3; i++) {
          const e = `e${Math.floor(rnd() * 5)}`
          states[i] = join(states[i], orset.add(states[i], ids[i], e))
          states[i] = join(states[i], orset.remove(states[i], e))
          cycles++
        }
        if (round % 7 === 0) {
          // partial gossip: each replica hears from its right neighbour
          states = states.map((s, i) => join(s, states[(i + 1) % 3]))
        }
      }
      const all = states.reduce((acc, s) => join(acc, s))
      states = states.map((s) => join(s, all))
      for (const s of states) {
        assert.equal(s.store.size, 0, 'no element survives')
        assert.equal(contextSize(s.ctx), 3, 'context is one version-vector entry per replica')
        assert.ok(encodeCrdt(s).length < 40, `encoded state stays tiny, got ${encodeCrdt(s).length} bytes after ${cycles} cycles`)
      }
    })
  })

  describe('counters', () => {
    it('PNCounter converges to the exact total of all increments and decrements', () => {
      check(fc.property(fc.array(fc.tuple(fc.nat(4), fc.integer({ min: -1000, max: 1000 })), { maxLength: 80 }), fc.nat(), (ops, s0) => {
        const rnd = prng(s0)
        const ids = ['A', 'B', 'C', 'D', 'E']
        const states: PNCounter[] = ids.map(() => pncounter.bottom())
        const deltas: PNCounter[] = []
        let total = 0
        for (const [r, n] of ops) {
          const d = pncounter.add(states[r], ids[r], n)
          states[r] = join(states[r], d)
          deltas.push(d)
          total += n
          // random lossy gossip of a random earlier delta
          if (deltas.length > 0 && rnd() < 0.5) {
            const to = Math.floor(rnd() * 5)
            states[to] = join(states[to], deltas[Math.floor(rnd() * deltas.length)])
          }
        }
        const full = states.reduce((acc, s) => join(acc, s))
        assert.equal(pncounter.value(full), total)
      }))
    })

    it('GCounter rejects negative and unsafe increments', () => {
      assert.throws(() => gcounter.inc(gcounter.bottom(), 'A', -1), CrdtArgumentError)
      assert.throws(() => gcounter.inc(gcounter.bottom(), 'A', 0.5), CrdtArgumentError)
      const big = join(gcounter.bottom(), gcounter.inc(gcounter.bottom(), 'A', Number.MAX_SAFE_INTEGER))
      assert.throws(() => gcounter.inc(big, 'A', 1), CrdtArgumentError)
      assert.throws(() => gcounter.inc(gcounter.bottom(), '', 1), CrdtArgumentError)
    })

    it('a leaderboard (ORMap of counters) written concurrently on every replica converges to the exact totals', () => {
      check(fc.property(fc.array(fc.tuple(fc.nat(2), fc.constantFrom('ann', 'bob', 'cy'), fc.integer({ min: -50, max: 50 })), { maxLength: 60 }), fc.nat(), (ops, s0) => {
        const rnd = prng(s0)
        const ids = ['eu', 'us', 'ap']
        const states: ORMap[] = ids.map(() => ormap.bottom({ kind: 'ccounter' }))
        const sent: ORMap[] = []
        const totals = new Map<string, number>()
        for (const [r, key, n] of ops) {
          const d = ormap.update<CCounter>(states[r], key, (v) => ccounter.add(v, ids[r], n))
          states[r] = join(states[r], d)
          sent.push(d)
          totals.set(key, (totals.get(key) ?? 0) + n)
          const to = Math.floor(rnd() * 3)
          if (rnd() < 0.4) states[to] = join(states[to], sent[Math.floor(rnd() * sent.length)])
        }
        const full = states.reduce((acc, s) => join(acc, s))
        for (const s of states.map((x) => join(x, full))) {
          assert.deepEqual([...ormap.value(s)], [...totals].sort((x, y) => x[0] < y[0] ? -1 : 1))
        }
      }))
    })

    it('CCounter keeps one dot per replica and sums exactly', () => {
      let a: CCounter = ccounter.bottom()
      for (let i = 0; i < 100; i++) a = join(a, ccounter.add(a, 'A', i % 2 === 0 ? 3 : -1))
      let b = join(ccounter.bottom(), a)
      b = join(b, ccounter.add(b, 'B', 7))
      const m = join(a, b)
      assert.equal(ccounter.value(m), 50 * 3 - 50 + 7)
      assert.equal(m.store.length, 2)
      assert.equal(contextSize(m.ctx), 2)
    })
  })

  describe('registers', () => {
    it('LWWRegister: later timestamp wins; equal timestamps break ties by replica id', () => {
      const r0 = lwwRegister.bottom()
      const a = lwwRegister.set(r0, 'A', { wall: 10, logical: 0 }, 'from-a')
      const b = lwwRegister.set(r0, 'B', { wall: 10, logical: 0 }, 'from-b')
      const c = lwwRegister.set(r0, 'C', { wall: 9, logical: 5 }, 'from-c')
      assert.equal(value(join(a, b)), 'from-b')
      assert.equal(value(join(b, a)), 'from-b')
      assert.equal(value(join(join(a, c), b)), 'from-b')
      assert.equal(value(join(c, a)), 'from-a')
    })

    it('MVRegister keeps concurrent writes and a later write replaces them', () => {
      const a = mvRegister.write(mvRegister.bottom(), 'A', 'one')
      const b = mvRegister.write(mvRegister.bottom(), 'B', 'two')
      const both = join(a, b)
      assert.deepEqual(value(both), ['one', 'two'])
      const c = join(both, mvRegister.write(both, 'C', 'three'))
      assert.deepEqual(value(c), ['three'])
      assert.deepEqual(value(join(c, a)), ['three'], 'an old delta does not resurrect a value')
    })

    it('causal LWW: a write overwrites what it saw, concurrent writes resolve by timestamp then replica', () => {
      const a = clwwRegister.set(clwwRegister.bottom(), 'A', { wall: 5, logical: 0 }, 'a')
      const b = clwwRegister.set(clwwRegister.bottom(), 'B', { wall: 5, logical: 0 }, 'b')
      assert.equal(value(join(a, b)), 'b')
      const ab = join(a, b)
      const later = join(ab, clwwRegister.set(ab, 'A', { wall: 6, logical: 0 }, 'a2'))
      assert.equal(value(later), 'a2')
      assert.equal(later.store.length, 1, 'covered writes are dropped')
      assert.equal(clwwRegister.winner(later)?.replica, 'A')
      assert.equal(value(join(later, clwwRegister.clear(later))), undefined)
    })
  })

  describe('ORMap of nested CRDTs', () => {
    it('update and remove keys; a concurrent update survives a remove (observed contributions are reset)', () => {
      let a: ORMap = ormap.bottom({ kind: 'ccounter' })
      a = join(a, ormap.update<CCounter>(a, 'likes', (v) => ccounter.add(v, 'A', 10)))
      let b = join(ormap.bottom({ kind: 'ccounter' }), a)
      assert.deepEqual([...ormap.value(b)], [['likes', 10]])
      // concurrently: A removes the key; B has not seen anything of B's own yet, adds 2
      const rm = ormap.remove(a, 'likes')
      const up = ormap.update<CCounter>(b, 'likes', (v) => ccounter.add(v, 'B', 2))
      a = join(a, rm)
      b = join(b, up)
      assert.equal(ormap.has(a, 'likes'), false)
      const m = join(a, b)
      assert.deepEqual([...ormap.value(m)], [['likes', 2]])
      assert.deepEqual([...ormap.value(join(b, a))], [['likes', 2]])
    })

    it('nested maps share one causal context and remove recursively', () => {
      let m: ORMap = ormap.bottom({ kind: 'ormap', value: { kind: 'orset' } })
      m = join(m, ormap.update<ORMap>(m, 'u1', (inner) => ormap.update<ORSet>(inner, 'tags', (s) => orset.add(s, 'A', 'red'))))
      m = join(m, ormap.update<ORMap>(m, 'u1', (inner) => ormap.update<ORSet>(inner, 'tags', (s) => orset.add(s, 'A', 'blue'))))
      const v = ormap.value(m).get('u1') as ReadonlyMap<string, unknown>
      assert.deepEqual(v.get('tags'), ['blue', 'red'])
      m = join(m, ormap.remove(m, 'u1'))
      assert.equal(ormap.keys(m).length, 0)
      assert.equal(contextSize(m.ctx), 1)
    })

    it('rejects a mutator that returns another type', () => {
      const m = ormap.bottom({ kind: 'ccounter' })
      assert.throws(() => ormap.update(m, 'k', () => orset.add(orset.bottom(), 'A', 'x')), CrdtTypeMismatchError)
      assert.throws(() => join(ormap.bottom({ kind: 'orset' }) as ORMap, m), CrdtTypeMismatchError)
      assert.throws(() => ormap.bottom({ kind: 'nope' } as never), CrdtArgumentError)
    })
  })

  describe('hybrid logical clock', () => {
    it('ticks monotonically even when physical time goes back', () => {
      let c = hlc.HLC_ZERO
      const seen: hlc.Hlc[] = []
      for (const now of [100, 100, 99, 50, 101, 101]) { c = hlc.hlcTick(c, now); seen.push(c) }
      for (let i = 1; i < seen.length; i++) assert.ok(hlc.compareHlc(seen[i - 1], seen[i]) < 0)
      assert.deepEqual(seen[seen.length - 1], { wall: 101, logical: 1 })
    })

    it('receive orders after both clocks and bounds drift', () => {
      check(fc.property(fc.nat(1000), fc.nat(5), fc.nat(1000), fc.nat(5), fc.nat(1000), (lw, ll, rw, rl, now) => {
        const local = { wall: lw, logical: ll }
        const remote = { wall: rw, logical: rl }
        const r = hlc.hlcReceive(local, remote, now)
        assert.ok(hlc.compareHlc(r, local) > 0)
        assert.ok(hlc.compareHlc(r, remote) > 0)
        assert.ok(r.wall >= now)
      }))
      assert.throws(() => hlc.hlcReceive(hlc.HLC_ZERO, { wall: 10_000, logical: 0 }, 1000, { maxDriftMs: 500 }), HlcDriftError)
      assert.throws(() => hlc.hlcTick(hlc.HLC_ZERO, -1), CrdtArgumentError)
    })
  })
})
