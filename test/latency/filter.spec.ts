import assert from 'node:assert/strict'
import { LatencyFilter } from '../../src/latency/filter.js'
import { LruMap } from '../../src/latency/lru.js'

describe('latency/filter', () => {
  it('is the median of the last 3 samples (one outlier does not move it)', () => {
    const f = new LatencyFilter(3)
    assert.equal(f.push('a', 10, 1).medianMs, 10)
    assert.equal(f.push('a', 500, 2).medianMs, 255)
    const s = f.push('a', 12, 3)
    assert.equal(s.medianMs, 12)
    assert.equal(s.count, 3)
    assert.equal(s.total, 3)
    assert.equal(s.at, 3)
    // window slides: 500 drops out after three more
    f.push('a', 11, 4)
    assert.equal(f.push('a', 13, 5).medianMs, 12)
    assert.equal(f.get('a')?.total, 5)
    assert.equal(f.get('a')?.spreadMs, 1)
    assert.equal(f.get('b'), undefined)
  })

  it('tracks at most maxPeers peers, forgetting the least recently sampled', () => {
    const f = new LatencyFilter(3, 3)
    f.push('a', 1, 0)
    f.push('b', 1, 0)
    f.push('c', 1, 0)
    f.push('a', 2, 1)
    f.push('d', 1, 2)
    assert.equal(f.peerCount, 3)
    assert.equal(f.get('b'), undefined)
    assert.deepEqual(f.peerIds(), ['c', 'a', 'd'])
  })
})

describe('latency/lru', () => {
  it('evicts the least recently used key and reports it', () => {
    const m = new LruMap<string, number>(2)
    m.set('x', 1)
    m.set('y', 2)
    m.get('x')
    assert.equal(m.set('z', 3), 'y')
    assert.equal(m.peek('y'), undefined)
    assert.equal(m.size, 2)
    assert.deepEqual(m.keys(), ['x', 'z'])
    assert.throws(() => new LruMap(0), RangeError)
  })
})
