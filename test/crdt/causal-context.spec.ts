/**
 * Causal context against a naive set-of-dots model, plus sync planning.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  compareContexts, CrdtArgumentError, contextContains, contextCount, contextDifference, contextDifferenceCount, contextFromDots,
  contextLeq, contextSize, digest, makeContext, equals, join, joinContexts, missingCount, nextDot, orset, planSync, value
} from '../../src/crdt/index.js'
import type { CausalContext, Dot, ORSet } from '../../src/crdt/index.js'
import { check } from './support.js'

const dotArb = fc.record({ replica: fc.constantFrom('a', 'b', 'c'), counter: fc.integer({ min: 1, max: 12 }) })
const dotsArb = fc.array(dotArb, { maxLength: 30 })

function naive (dots: Dot[]): Set<string> {
  return new Set(dots.map((d) => `${d.replica}:${d.counter}`))
}

function all (): Dot[] {
  const out: Dot[] = []
  for (const replica of ['a', 'b', 'c', 'd']) for (let counter = 1; counter <= 13; counter++) out.push({ replica, counter })
  return out
}

function members (ctx: CausalContext): Set<string> {
  return new Set(all().filter((d) => contextContains(ctx, d)).map((d) => `${d.replica}:${d.counter}`))
}

function assertCompact (ctx: CausalContext): void {
  for (const [r, ranges] of ctx.cloud) {
    assert.ok(ranges.length > 0)
    let prevEnd = (ctx.vv.get(r) ?? 0) + 1
    for (const [lo, hi] of ranges) {
      assert.ok(lo > prevEnd && hi >= lo, 'cloud ranges are sorted and sit above a gap')
      prevEnd = hi + 1
    }
  }
  for (const n of ctx.vv.values()) assert.ok(n > 0)
}

describe('crdt causal context', () => {
  it('behaves as a set of dots, always compacted', () => {
    check(fc.property(dotsArb, dotsArb, (xs, ys) => {
      const a = contextFromDots(xs)
      const b = contextFromDots(ys)
      const na = naive(xs)
      const nb = naive(ys)
      assertCompact(a)
      assert.deepEqual(members(a), na)
      assert.equal(contextCount(a), na.size)
      const j = joinContexts(a, b)
      assertCompact(j)
      assert.deepEqual(members(j), new Set([...na, ...nb]))
      const diff = contextDifference(a, b)
      assertCompact(diff)
      const nd = new Set([...na].filter((x) => !nb.has(x)))
      assert.deepEqual(members(diff), nd)
      assert.equal(contextDifferenceCount(a, b), nd.size)
      assert.equal(missingCount(a, b), nd.size)
      assert.equal(contextLeq(a, b), [...na].every((x) => nb.has(x)))
      const order = compareContexts(a, b)
      const ab = contextLeq(a, b)
      const ba = contextLeq(b, a)
      assert.equal(order, ab && ba ? 'equal' : ab ? 'before' : ba ? 'after' : 'concurrent')
      for (const r of ['a', 'b', 'c']) {
        const d = nextDot(a, r)
        assert.ok(!contextContains(a, d))
        assert.ok(![...na].some((x) => x.startsWith(`${r}:`) && Number(x.split(':')[1]) >= d.counter))
      }
    }))
  })
})

describe('crdt causal context with huge gaps', () => {
  it('keeps gaps as ranges: difference, count and order cost O(ranges), not O(dots)', () => {
    const far = makeContext([['r', 1e12]])
    const near = makeContext([['r', 10]], [{ replica: 'r', counter: 1000 }])
    const diff = contextDifference(far, near)
    assert.equal(contextSize(diff), 2)
    assert.equal(contextCount(diff), 1e12 - 11)
    assert.equal(contextDifferenceCount(far, near), 1e12 - 11)
    assert.equal(compareContexts(near, far), 'before')
    assert.ok(contextContains(joinContexts(near, diff), { replica: 'r', counter: 123_456_789 }))
    assert.equal(contextSize(joinContexts(near, diff)), 1, 'joining the gap compacts to one vector entry')
  })
})

describe('crdt dot exhaustion', () => {
  it('refuses to mint a dot past 2^53 - 1 instead of producing an unencodable state', () => {
    const s: ORSet = { ...orset.bottom(), ctx: makeContext([['A', Number.MAX_SAFE_INTEGER]]) }
    assert.throws(() => orset.add(s, 'A', 'x'), CrdtArgumentError)
    assert.doesNotThrow(() => orset.add(s, 'B', 'x'))
  })
})

describe('crdt sync planning', () => {
  function history (cycles: number): ORSet {
    let s: ORSet = orset.bottom()
    for (let i = 0; i < cycles; i++) {
      s = join(s, orset.add(s, 'A', `e${i % 7}`))
      if (i % 3 !== 0) s = join(s, orset.remove(s, `e${(i * 5) % 7}`))
    }
    return s
  }

  it('sends nothing to an up-to-date peer, a delta for a small gap, the full state for a large one', () => {
    const s = history(300)
    assert.equal(planSync(s, digest(s)).kind, 'none')
    const small = join(s, orset.add(s, 'A', 'new'))
    const p1 = planSync(small, digest(s))
    assert.equal(p1.kind, 'delta')
    const p2 = planSync(small, digest(orset.bottom()))
    assert.equal(p2.kind, 'full')
  })

  it('whatever it plans, applying it converges', () => {
    check(fc.property(fc.nat(200), fc.nat(200), fc.double({ min: 0, max: 1, noNaN: true }), (x, y, ratio) => {
      const a = history(x)
      let b: ORSet = history(Math.min(x, y))
      b = join(b, orset.add(b, 'B', `b${y}`))
      const plan = planSync(a, digest(b), { maxDeltaRatio: ratio })
      const after = plan.kind === 'none' ? b : join(b, plan.kind === 'full' ? plan.state : plan.delta)
      assert.ok(equals(after, join(a, b)))
      assert.deepEqual(value(after), value(join(a, b)))
    }), 60)
  })
})
