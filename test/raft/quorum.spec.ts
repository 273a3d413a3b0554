import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  jointCommitted, jointVoteResult, majorityCommitted, majorityVoteResult, UNBOUNDED_INDEX, VoteResult
} from '../../src/raft/core/quorum.js'

const ids = ['1', '2', '3', '4', '5', '6', '7']
const config = fc.subarray(ids, { minLength: 0, maxLength: 7 })
const acks = fc.dictionary(fc.constantFrom(...ids), fc.integer({ min: 0, max: 20 }))
const votes = fc.dictionary(fc.constantFrom(...ids), fc.boolean())

/** the definition: the largest i such that a majority acked >= i */
function bruteCommitted (voters: string[], acked: Record<string, number>): number {
  if (voters.length === 0) return UNBOUNDED_INDEX
  let best = 0
  for (let i = 0; i <= 20; i++) {
    const n = voters.filter(v => (acked[v] ?? 0) >= i).length
    if (n > voters.length / 2) best = i
  }
  return best
}

function bruteVote (voters: string[], v: Record<string, boolean>): VoteResult {
  if (voters.length === 0) return VoteResult.Won
  const yes = voters.filter(x => v[x] === true).length
  const no = voters.filter(x => v[x] === false).length
  if (yes > voters.length / 2) return VoteResult.Won
  if (no >= voters.length / 2) return VoteResult.Lost
  return VoteResult.Pending
}

describe('raft quorum math', () => {
  it('majority committed index matches its definition', () => {
    fc.assert(fc.property(config, acks, (c, a) =>
      majorityCommitted(c, id => a[id]) === bruteCommitted(c, a)), { seed: 1, numRuns: 2000 })
  })

  it('joint committed index is the minimum of both majorities', () => {
    fc.assert(fc.property(config, config, acks, (inc, out, a) =>
      jointCommitted(inc, out, id => a[id]) === Math.min(bruteCommitted(inc, a), bruteCommitted(out, a))), { seed: 2, numRuns: 2000 })
  })

  it('majority vote result matches its definition', () => {
    fc.assert(fc.property(config, votes, (c, v) =>
      majorityVoteResult(c, new Map(Object.entries(v))) === bruteVote(c, v)), { seed: 3, numRuns: 2000 })
  })

  it('joint vote: won needs both, lost if either is lost', () => {
    fc.assert(fc.property(config, config, votes, (inc, out, v) => {
      const a = bruteVote(inc, v)
      const b = bruteVote(out, v)
      const want = a === VoteResult.Won && b === VoteResult.Won
        ? VoteResult.Won
        : a === VoteResult.Lost || b === VoteResult.Lost ? VoteResult.Lost : VoteResult.Pending
      return jointVoteResult(inc, out, new Map(Object.entries(v))) === want
    }), { seed: 4, numRuns: 2000 })
  })

  it('two majorities of one config intersect; one-voter changes keep them intersecting', () => {
    // safety of one-at-a-time changes: any majority of C and any majority of C±1 voter overlap
    fc.assert(fc.property(fc.subarray(ids, { minLength: 1, maxLength: 6 }), fc.constantFrom(...ids), fc.integer({ min: 0, max: 1 << 7 }), fc.integer({ min: 0, max: 1 << 7 }), (c, x, m1, m2) => {
      const c2 = c.includes(x) ? c.filter(v => v !== x) : [...c, x]
      if (c2.length === 0) return true
      const q1 = c.filter((_, i) => (m1 >> i) & 1)
      const q2 = c2.filter((_, i) => (m2 >> i) & 1)
      if (q1.length <= c.length / 2 || q2.length <= c2.length / 2) return true
      return q1.some(v => q2.includes(v))
    }), { seed: 5, numRuns: 3000 })
  })

  it('handles the classic cases', () => {
    assert.equal(majorityCommitted(['1', '2', '3'], id => ({ 1: 5, 2: 3, 3: 1 } as Record<string, number>)[id]), 3)
    assert.equal(majorityCommitted(['1', '2', '3', '4'], id => ({ 1: 5, 2: 3, 3: 1, 4: 2 } as Record<string, number>)[id]), 2)
    assert.equal(majorityCommitted(['1'], () => undefined), 0)
    assert.equal(majorityVoteResult(['1', '2', '3'], new Map([['1', true]])), VoteResult.Pending)
    assert.equal(majorityVoteResult(['1', '2', '3'], new Map([['1', false], ['2', false]])), VoteResult.Lost)
  })
})
