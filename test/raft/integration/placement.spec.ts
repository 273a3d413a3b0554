/** Latency-aware placement (pure): voters within the radius, odd voter count, learners, leader siting, hysteresis. */
import assert from 'node:assert/strict'
import { betterLeader, place, PlacementError, predictedCommitMs, voterCount } from '../../../src/raft/placement/index.js'
import type { LatencyOracle, PlacementCandidate } from '../../../src/raft/placement/index.js'

function matrixOracle (rtt: Record<string, number>): LatencyOracle {
  return { estimate: (a, b) => { const v = rtt[`${a}-${b}`] ?? rtt[`${b}-${a}`]; return v === undefined ? null : { ms: v, errorMs: 0 } } }
}

const c = (peerId: string, region: string, zone = `${region}-a`): PlacementCandidate => ({ peerId, region, zone })

describe('raft placement', () => {
  it('voter counts are odd and capped', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 9].map(n => voterCount(n)), [1, 1, 3, 3, 5, 5, 5])
  })

  it('picks the 3 peers within 20 ms of each other, the far one becomes a learner', () => {
    // a, b, c in one metro (2-8 ms); d and e 80 ms away
    const rtt: Record<string, number> = { 'a-b': 2, 'a-c': 8, 'b-c': 6, 'a-d': 80, 'b-d': 80, 'c-d': 82, 'a-e': 85, 'b-e': 85, 'c-e': 85, 'd-e': 3 }
    const all = [c('a', 'eu'), c('b', 'eu'), c('c', 'eu'), c('d', 'us'), c('e', 'us')]
    const p = place({ replicas: 4, zones: [], latencyRadiusMs: 20, self: all[3], candidates: all, oracle: matrixOracle(rtt) })
    assert.deepEqual(p.voters, ['a', 'b', 'c'])
    assert.equal(p.learners.length, 1)
    assert.ok(p.withinRadius)
    // a's quorum needs b (2 ms); b's needs a (2 ms); c's needs b (6 ms)
    assert.equal(p.predictedCommitMs.c, 6)
    assert.ok(['a', 'b'].includes(p.leaderPreference[0]))
    assert.equal(p.priorities[p.leaderPreference[0]], 4)
    assert.equal(p.priorities.c, 1)
  })

  it('prefers the service zones, and the same region without an oracle', () => {
    const all = [c('a', 'eu'), c('b', 'eu'), c('c', 'eu'), c('d', 'us'), c('e', 'us'), c('f', 'us')]
    const p = place({ replicas: 3, zones: ['us-a'], latencyRadiusMs: 20, self: all[0], candidates: all })
    assert.deepEqual(p.voters, ['d', 'e', 'f'])
    const q = place({ replicas: 3, zones: [], latencyRadiusMs: 20, self: all[4], candidates: all })
    assert.deepEqual(q.voters, ['d', 'e', 'f'])
  })

  it('is deterministic and refuses more replicas than peers', () => {
    const all = [c('a', 'eu'), c('b', 'eu'), c('c', 'eu')]
    const one = place({ replicas: 3, zones: [], latencyRadiusMs: 20, self: all[0], candidates: [...all].reverse() })
    const two = place({ replicas: 3, zones: [], latencyRadiusMs: 20, self: all[2], candidates: all })
    assert.deepEqual(one.voters, two.voters)
    // with a choice to make (5 peers, 2 metros, 4 replicas), the candidates' order changes nothing
    const rtt: Record<string, number> = { 'a-b': 2, 'a-c': 8, 'b-c': 6, 'a-d': 80, 'b-d': 80, 'c-d': 82, 'a-e': 85, 'b-e': 85, 'c-e': 85, 'd-e': 3 }
    const five = [c('a', 'eu'), c('b', 'eu'), c('c', 'eu'), c('d', 'us'), c('e', 'us')]
    const forward = place({ replicas: 4, zones: [], latencyRadiusMs: 20, self: five[0], candidates: five, oracle: matrixOracle(rtt) })
    const backward = place({ replicas: 4, zones: [], latencyRadiusMs: 20, self: five[0], candidates: [...five].reverse(), oracle: matrixOracle(rtt) })
    assert.deepEqual(backward, forward)
    assert.throws(() => place({ replicas: 4, zones: [], latencyRadiusMs: 20, self: all[0], candidates: all }), PlacementError)
  })

  it('leadership moves only for a clear gain (hysteresis)', () => {
    const vs = [c('a', 'x'), c('b', 'x'), c('c', 'x')]
    // a is far from both; b and c are close to each other
    const o = matrixOracle({ 'a-b': 40, 'a-c': 45, 'b-c': 5 })
    assert.equal(predictedCommitMs(vs[0], vs, o), 40)
    assert.ok(['b', 'c'].includes(betterLeader('a', vs, o)!))
    // a small difference does not move leadership
    const o2 = matrixOracle({ 'a-b': 10, 'a-c': 12, 'b-c': 9 })
    assert.equal(betterLeader('a', vs, o2), null)
    assert.equal(betterLeader('a', vs, undefined), null)
  })
})
