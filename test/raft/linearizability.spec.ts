import assert from 'node:assert/strict'
import fc from 'fast-check'
import { checkHistory, checkKeyHistory } from './sim/linearizability.js'
import type { Operation } from './sim/linearizability.js'
import { KvStore } from './sim/kv.js'

const put = (value: string, call: number, ret: number, rev?: number): Operation =>
  ({ kind: 'put', key: 'k', value, call, ret, out: rev === undefined ? undefined : { ok: true, rev } })
const get = (value: string | null, rev: number, call: number, ret: number): Operation =>
  ({ kind: 'get', key: 'k', call, ret, out: { value, rev } })
const cas = (expect: number, value: string, call: number, ret: number, ok?: boolean, rev?: number): Operation =>
  ({ kind: 'cas', key: 'k', value, expect, call, ret, out: ok === undefined ? undefined : { ok, rev: rev ?? 0 } })

describe('linearizability checker', () => {
  it('accepts a sequential history', () => {
    assert.equal(checkKeyHistory([put('a', 1, 2, 1), get('a', 1, 3, 4), cas(1, 'b', 5, 6, true, 2), get('b', 2, 7, 8)]), true)
  })

  it('accepts concurrent ops linearized in the other order', () => {
    // the put is concurrent with the read that already sees it
    assert.equal(checkKeyHistory([put('a', 1, 10, 1), get('a', 1, 2, 3)]), true)
    // two concurrent puts, revisions show put b went first
    assert.equal(checkKeyHistory([put('a', 1, 10, 2), put('b', 2, 9, 1), get('a', 2, 11, 12)]), true)
  })

  it('without per-key revisions (a store with one global revision counter, as bench/raft/kv.ts checks) still rejects stale and time-travelling reads', () => {
    const g = { perKeyRevisions: false }
    // revisions 7 and 42 come from a global counter: ignored by the per-key model
    assert.equal(checkKeyHistory([put('a', 1, 2, 7), get('a', 42, 3, 4)], undefined, g), true)
    assert.equal(checkKeyHistory([put('a', 1, 2, 7), get(null, 0, 3, 4)], undefined, g), false)
    assert.equal(checkKeyHistory([put('a', 1, 2, 7), put('b', 3, 20, 9), get('b', 9, 4, 5), get('a', 7, 6, 7)], undefined, g), false)
    assert.equal(checkHistory([put('a', 1, 2, 7), put('b', 3, 4, 9), get('a', 7, 5, 6)], undefined, g).ok, false)
  })

  it('rejects a stale read after a completed write', () => {
    assert.equal(checkKeyHistory([put('a', 1, 2, 1), get(null, 0, 3, 4)]), false)
  })

  it('rejects a read that goes back in time', () => {
    assert.equal(checkKeyHistory([put('a', 1, 2, 1), put('b', 3, 20, 2), get('b', 2, 4, 5), get('a', 1, 6, 7)]), false)
  })

  it('rejects a lost acknowledged write', () => {
    assert.equal(checkKeyHistory([put('a', 1, 2, 1), put('b', 3, 4, 2), get('a', 1, 5, 6)]), false)
  })

  it('rejects two successful CAS from the same revision', () => {
    assert.equal(checkKeyHistory([cas(0, 'x', 1, 5, true, 1), cas(0, 'y', 2, 6, true, 1)]), false)
    assert.equal(checkKeyHistory([cas(0, 'x', 1, 5, true, 1), cas(0, 'y', 2, 6, false, 1)]), true)
  })

  it('treats an unknown write as possibly taken, or not', () => {
    const unknown = put('u', 1, Infinity)
    assert.equal(checkKeyHistory([unknown, get('u', 1, 5, 6)]), true)
    assert.equal(checkKeyHistory([unknown, get(null, 0, 5, 6)]), true)
    // but not taken twice, nor taken before its call
    assert.equal(checkKeyHistory([get('u', 1, 1, 2), { ...unknown, call: 3 }]), false)
    assert.equal(checkKeyHistory([unknown, get('u', 1, 5, 6), get(null, 0, 7, 8)]), false)
  })

  it('partitions by key and names the bad key', () => {
    const r = checkHistory([
      { kind: 'put', key: 'x', value: 'a', call: 1, ret: 2, out: { ok: true, rev: 1 } },
      { kind: 'get', key: 'x', call: 3, ret: 4, out: { value: 'a', rev: 1 } },
      { kind: 'put', key: 'y', value: 'a', call: 1, ret: 2, out: { ok: true, rev: 1 } },
      { kind: 'get', key: 'y', call: 3, ret: 4, out: { value: null, rev: 0 } }
    ])
    assert.deepEqual(r.badKeys, ['y'])
    assert.equal(r.ok, false)
  })

  it('accepts every history produced by a real sequential store with random overlaps (property)', () => {
    // ops run atomically at a point inside [call, ret]: always linearizable
    fc.assert(fc.property(fc.array(fc.record({
      kind: fc.constantFrom('get', 'put', 'cas'),
      value: fc.constantFrom('a', 'b', 'c'),
      expect: fc.integer({ min: 0, max: 3 }),
      before: fc.integer({ min: 0, max: 5 }),
      after: fc.integer({ min: 1, max: 5 }),
      lost: fc.boolean()
    }), { maxLength: 14 }), (specs) => {
      const kv = new KvStore()
      const ops: Operation[] = specs.map((s, i) => {
        const at = (i + 1) * 4
        const call = at - s.before
        const ret = s.lost && s.kind !== 'get' ? Infinity : at + s.after
        if (s.kind === 'get') {
          const v = kv.get('k')
          return { kind: 'get', key: 'k', call, ret, out: { value: v.value, rev: v.rev } }
        }
        const r = kv.apply(s.kind === 'put'
          ? { kind: 'put', id: String(i), key: 'k', value: s.value }
          : { kind: 'cas', id: String(i), key: 'k', value: s.value, expect: s.expect })
        return s.kind === 'put'
          ? { kind: 'put', key: 'k', value: s.value, call, ret, out: Number.isFinite(ret) ? r : undefined }
          : { kind: 'cas', key: 'k', value: s.value, expect: s.expect, call, ret, out: Number.isFinite(ret) ? r : undefined }
      })
      return checkKeyHistory(ops) === true
    }), { seed: 42, numRuns: 300 })
  })

  it('rejects histories where a completed read returns a value never written (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), (n) => {
      const ops: Operation[] = []
      for (let i = 0; i < n; i++) ops.push(put(`v${i}`, i * 4 + 1, i * 4 + 2, i + 1))
      ops.push(get('never', n, n * 4 + 1, n * 4 + 2))
      return checkKeyHistory(ops) === false
    }), { seed: 7, numRuns: 20 })
  })
})
