/**
 * Append-only log semantics: total order by (HLC, replica, counter),
 * concurrent appends all survive, cursors resume, retention trims a prefix
 * without reordering, removals of unseen entries hold once they arrive.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { alog, decodeCrdt, encodeCrdt, join } from '../../src/crdt/index.js'
import type { ALog } from '../../src/crdt/index.js'
import { check } from './support.js'

const ts = (wall: number, logical = 0): { wall: number, logical: number } => ({ wall, logical })

describe('crdt alog (append-only log)', () => {
  it('orders entries by HLC, then replica id, then counter; concurrent appends all survive', () => {
    let a = alog.bottom()
    let b = alog.bottom()
    const da = alog.append(a, 'r-a', [ts(10), ts(12)], ['a1', 'a2'])
    a = join(a, da)
    const db = alog.append(b, 'r-b', [ts(10), ts(11)], ['b1', 'b2'])
    b = join(b, db)
    const ab = join(a, db)
    const ba = join(b, da)
    assert.deepEqual(alog.value(ab), ['a1', 'b1', 'b2', 'a2'])
    assert.deepEqual(alog.value(ba), alog.value(ab))
    assert.equal(alog.length(ab), 4)
  })

  it('refuses non-increasing timestamps and mismatched lengths', () => {
    assert.throws(() => alog.append(alog.bottom(), 'r', [ts(5), ts(5)], ['x', 'y']), { code: 'CRDT_INVALID_ARGUMENT' })
    assert.throws(() => alog.append(alog.bottom(), 'r', [ts(5)], ['x', 'y']), { code: 'CRDT_INVALID_ARGUMENT' })
  })

  it('reads by range and resumes after a cursor', () => {
    let s = alog.bottom()
    for (let i = 0; i < 10; i++) s = join(s, alog.append(s, 'r', [ts(100 + i)], [`e${i}`]))
    const first = alog.read(s, { limit: 3 })
    assert.deepEqual(first.map(e => e.value), ['e0', 'e1', 'e2'])
    const next = alog.read(s, { after: first[2], limit: 3 })
    assert.deepEqual(next.map(e => e.value), ['e3', 'e4', 'e5'])
    assert.deepEqual(alog.read(s, { fromMs: 104, toMs: 107 }).map(e => e.value), ['e4', 'e5', 'e6'])
    assert.deepEqual(alog.read(s, { after: next[2], fromMs: 100 }).map(e => e.value), ['e6', 'e7', 'e8', 'e9'])
  })

  it('retention by size and age drops the oldest prefix and keeps the order', () => {
    let s = alog.bottom()
    for (let i = 0; i < 10; i++) s = join(s, alog.append(s, i % 2 === 0 ? 'r-a' : 'r-b', [ts(100 + i)], [`e${i}`]))
    const bySize = join(s, alog.removeDots(s, alog.expired(s, { maxEntries: 4 }, 0)))
    assert.deepEqual(alog.value(bySize), ['e6', 'e7', 'e8', 'e9'])
    const byAge = join(s, alog.removeDots(s, alog.expired(s, { maxAgeMs: 3 }, 109)))
    assert.deepEqual(alog.value(byAge), ['e6', 'e7', 'e8', 'e9'])
    assert.deepEqual(alog.expired(bySize, { maxEntries: 4 }, 0), [])
    // the trimmed log carries no tombstones: its context stays a version vector
    assert.equal(bySize.ctx.cloud.size, 0)
    assert.ok(encodeCrdt(bySize).length < encodeCrdt(s).length)
  })

  it('a removal of entries not yet seen holds when they arrive', () => {
    const a0 = alog.bottom()
    const d1 = alog.append(a0, 'r-a', [ts(1), ts(2)], ['x', 'y'])
    const a1 = join(a0, d1)
    const trim = alog.removeDots(a1, alog.expired(a1, { maxEntries: 1 }, 0))
    // replica c hears of the trim before the append
    const c = join(join(alog.bottom(), trim), d1)
    assert.deepEqual(alog.value(c), ['y'])
  })

  it('any delivery order of appends and trims converges to the same ordered log (seeded)', () => {
    check(fc.property(fc.array(fc.record({ r: fc.constantFrom('r-a', 'r-b', 'r-c'), wall: fc.integer({ min: 0, max: 20 }), trim: fc.boolean() }), { minLength: 1, maxLength: 30 }), fc.array(fc.nat()), (ops, order) => {
      const states = new Map<string, ALog>([['r-a', alog.bottom()], ['r-b', alog.bottom()], ['r-c', alog.bottom()]])
      const deltas: ALog[] = []
      for (const o of ops) {
        const s = states.get(o.r) as ALog
        const d = o.trim ? alog.removeDots(s, alog.expired(s, { maxEntries: 2 }, 0)) : alog.append(s, o.r, [ts(o.wall, s.store.length)], [`${o.r}@${o.wall}`])
        states.set(o.r, join(s, d))
        deltas.push(d)
      }
      const shuffled = deltas.map((d, i) => ({ d, k: order[i % Math.max(1, order.length)] ?? i })).sort((x, y) => x.k - y.k).map(x => x.d)
      const viaDeltas = shuffled.reduce((acc, d) => join(acc, d), alog.bottom())
      const viaStates = [...states.values()].reduce((acc, s) => join(acc, s), alog.bottom())
      assert.deepEqual(alog.entries(viaDeltas), alog.entries(viaStates))
      const es = alog.entries(viaStates)
      for (let i = 1; i < es.length; i++) assert.ok(alog.comparePositions(es[i - 1], es[i]) < 0, 'strict total order')
      const round = decodeCrdt(encodeCrdt(viaStates)) as ALog
      assert.deepEqual(alog.entries(round), es)
    }))
  })
})
