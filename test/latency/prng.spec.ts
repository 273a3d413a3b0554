import assert from 'node:assert/strict'
import { createPrng, shuffled } from '../../src/latency/prng.js'

describe('latency/prng', () => {
  it('same seed, same stream; different seeds differ', () => {
    const a = createPrng(7)
    const b = createPrng(7)
    const c = createPrng(8)
    const xs = Array.from({ length: 100 }, () => a.next())
    assert.deepEqual(xs, Array.from({ length: 100 }, () => b.next()))
    assert.notDeepEqual(xs, Array.from({ length: 100 }, () => c.next()))
  })

  it('next() is in [0, 1) with a plausible mean; int(n) in range; normal() has unit variance', () => {
    const p = createPrng(123)
    let sum = 0
    for (let i = 0; i < 20000; i++) {
      const x = p.next()
      assert.ok(x >= 0 && x < 1)
      sum += x
    }
    assert.ok(Math.abs(sum / 20000 - 0.5) < 0.02, `mean ${sum / 20000}`)
    const counts = new Array(5).fill(0)
    for (let i = 0; i < 5000; i++) counts[p.int(5)]++
    for (const c of counts) assert.ok(c > 850 && c < 1150, `counts ${counts}`)
    let s2 = 0
    for (let i = 0; i < 20000; i++) s2 += p.normal() ** 2
    assert.ok(Math.abs(s2 / 20000 - 1) < 0.05, `variance ${s2 / 20000}`)
  })

  it('forks are deterministic and independent of later draws of the parent', () => {
    const a = createPrng(5)
    const fa = a.fork()
    const b = createPrng(5)
    const fb = b.fork()
    b.next()
    assert.equal(fa.next(), fb.next())
  })

  it('rejects a bad seed and a bad int bound', () => {
    assert.throws(() => createPrng(NaN), RangeError)
    assert.throws(() => createPrng(5).int(0), RangeError)
  })

  it('shuffled() returns a permutation and leaves the input alone', () => {
    const items = Array.from({ length: 50 }, (_, i) => i)
    const out = shuffled(items, createPrng(1))
    assert.deepEqual([...out].sort((x, y) => x - y), items)
    assert.notDeepEqual(out, items)
    assert.equal(items[0], 0)
  })
})
