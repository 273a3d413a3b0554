import assert from 'node:assert/strict'
import { parseRecord, keys } from '../../src/catalogue/index.js'
import type { RolloutRecord, RolloutReportRecord } from '../../src/catalogue/index.js'
import { decide, emptyFigures, observe, parseRolloutSpec, quantileMs, slaBreach, figuresOf, InvalidRolloutError, inCohort } from '../../src/rollouts/index.js'
import { nameFromFilename } from '../../src/rollouts/routes.js'

const V1 = 'bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'
const V2 = 'bafkreibbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'
const P1 = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'
const P2 = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'
const T0 = Date.parse('2026-12-07T00:00:00.000Z')

function rollout (over: Partial<RolloutRecord> = {}, spec: Record<string, unknown> = {}): RolloutRecord {
  return {
    id: 'r1-abc',
    version: V2,
    from: V1,
    state: 'canary',
    spec: parseRolloutSpec({ canaryRegions: ['eu'], minHealthyTime: '10s', healthyDeadline: '60s', stagger: '5s', maxParallel: 1, sla: { latencyP95Ms: 50, errorRate: 0.1, minSamples: 10 }, ...spec }),
    cohort: ['eu'],
    startedAt: new Date(T0).toISOString(),
    startedBy: P1,
    canaryAt: new Date(T0).toISOString(),
    updatedAt: new Date(T0).toISOString(),
    ...over
  }
}

function report (peer: string, inCohort: boolean, cid: string, n: number, ms: number, errors = 0): RolloutReportRecord {
  const f = emptyFigures()
  for (let i = 0; i < n; i++) observe(f, ms, i >= errors)
  return { rollout: 'r1-abc', peer, region: inCohort ? 'eu' : 'us', inCohort, at: new Date(T0).toISOString(), versions: { [cid]: f } }
}

const regions = ['eu', 'us', 'ap']

describe('rollouts: specs', () => {
  it('parses Nomad-like fields with durations and defaults', () => {
    const s = parseRolloutSpec({ canary: { regions: ['eu-west-1'], share: 0.5 }, minHealthyTime: '30s', healthyDeadline: '5m', stagger: 1500, sla: { latency_p95: 50, error_rate: 0.01 } })
    assert.deepEqual(s.canaryRegions, ['eu-west-1'])
    assert.equal(s.canaryShare, 0.5)
    assert.equal(s.minHealthyTimeMs, 30_000)
    assert.equal(s.healthyDeadlineMs, 300_000)
    assert.equal(s.staggerMs, 1500)
    assert.equal(s.sla.latencyP95Ms, 50)
    assert.equal(s.sla.errorRate, 0.01)
    assert.equal(s.autoPromote, true)
    assert.equal(s.autoRevert, true)
  })

  it('names the bad field', () => {
    const bad: Array<[unknown, string]> = [
      [{}, 'rollout.canary.regions'],
      [{ canaryRegions: 'eu', minHealthyTime: 'soon' }, 'rollout.minHealthyTime'],
      [{ canaryRegions: 'eu', canaryShare: 2 }, 'rollout.canaryShare'],
      [{ canaryRegions: 'eu', sla: { errorRate: 3 } }, 'rollout.sla.errorRate'],
      [{ canaryRegions: 'eu', minHealthyTime: '10m', healthyDeadline: '1m' }, 'rollout.healthyDeadlineMs'],
      [{ canaryRegions: 'eu', colour: 'blue' }, 'rollout.colour'],
      [{ canaryRegions: ['bad region!'] }, 'rollout.canaryRegions'],
      [[], 'rollout']
    ]
    for (const [input, field] of bad) {
      assert.throws(() => parseRolloutSpec(input), (e: unknown) => e instanceof InvalidRolloutError && e.code === 'ROLLOUT_INVALID' && e.field === field, JSON.stringify(input))
    }
  })

  it('the artifact file name gives the function name', () => {
    assert.equal(nameFromFilename('target/wasm32-wasi/release/app.wasm'), 'app')
    assert.equal(nameFromFilename('My_App.WASM'), 'my-app')
    assert.equal(nameFromFilename('.wasm'), undefined)
  })
})

describe('rollouts: catalogue records are checked', () => {
  it('accepts a rollout and a report; refuses bad ones', () => {
    const r = rollout()
    assert.equal(parseRecord(keys.rollout('fn1'), JSON.stringify(r)).key.type, 'rollout')
    const rep = report(P2, true, V2, 3, 5)
    assert.equal(parseRecord(keys.report('fn1', P2), JSON.stringify(rep)).key.type, 'report')
    assert.throws(() => parseRecord(keys.report('fn1', P1), JSON.stringify(rep)), /peer in its key/)
    assert.throws(() => parseRecord(keys.rollout('fn1'), JSON.stringify({ ...r, state: 'weird' })), /state/)
    assert.throws(() => parseRecord(keys.rollout('fn1'), JSON.stringify({ ...r, extra: 1 })), /unknown field/)
    const broken = { ...rep, versions: { [V2]: { count: 1, errors: 2, buckets: rep.versions[V2].buckets } } }
    assert.throws(() => parseRecord(keys.report('fn1', P2), JSON.stringify(broken)), /must not exceed count/)
    assert.throws(() => parseRecord('fn/fn1/rm/not a peer', JSON.stringify(rep)), /not a catalogue key/)
  })
})

describe('rollouts: figures', () => {
  it('p95 is the upper bound of the bucket that holds it', () => {
    const f = emptyFigures()
    for (let i = 0; i < 95; i++) observe(f, 3, true)
    for (let i = 0; i < 5; i++) observe(f, 400, true)
    assert.equal(quantileMs(f, 0.95), 5)
    observe(f, 400, false)
    assert.equal(quantileMs(f, 0.95), 500)
    assert.equal(quantileMs(emptyFigures(), 0.95), null)
  })
})

describe('rollouts: the state machine', () => {
  it('pending -> canary in the canary regions', () => {
    const d = decide({ rollout: rollout({ state: 'pending', cohort: [] }), reports: [], current: V1, regions, now: T0 })
    assert.equal(d?.rollout.state, 'canary')
    assert.deepEqual(d?.rollout.cohort, ['eu'])
    assert.equal(d?.current, undefined)
  })

  it('waits for minHealthyTime and minSamples, then promotes region by region, then makes it current', () => {
    const good = [report(P1, true, V2, 20, 3)]
    assert.equal(decide({ rollout: rollout(), reports: good, current: V1, regions, now: T0 + 5000 }), null, 'before minHealthyTime')
    assert.equal(decide({ rollout: rollout(), reports: [report(P1, true, V2, 5, 3)], current: V1, regions, now: T0 + 20_000 }), null, 'too few samples')
    const d1 = decide({ rollout: rollout(), reports: good, current: V1, regions, now: T0 + 10_000 })
    assert.equal(d1?.rollout.state, 'promoting')
    assert.deepEqual(d1?.rollout.cohort, ['eu', 'ap'])
    assert.equal(d1?.current, undefined)
    assert.equal(decide({ rollout: d1!.rollout, reports: good, current: V1, regions, now: T0 + 12_000 }), null, 'stagger')
    const d2 = decide({ rollout: d1!.rollout, reports: good, current: V1, regions, now: T0 + 15_000 })
    assert.deepEqual(d2?.rollout.cohort, ['eu', 'ap', 'us'])
    const d3 = decide({ rollout: d2!.rollout, reports: good, current: V1, regions, now: T0 + 16_000 })
    assert.equal(d3?.rollout.state, 'promoted')
    assert.equal(d3?.current, V2)
    assert.equal(d3?.event?.type, 'rollout-promoted')
  })

  it('reverts on error rate, on p95, relative to the current version, and on an unhealthy verdict', () => {
    const errs = decide({ rollout: rollout(), reports: [report(P1, true, V2, 20, 3, 5)], current: V1, regions, now: T0 + 1000 })
    assert.equal(errs?.rollout.state, 'reverted')
    assert.match(errs?.rollout.reason ?? '', /error rate 0.25 > 0.1/)
    assert.deepEqual(errs?.rollout.cohort, [])
    assert.equal(errs?.current, undefined, 'current never moved, so a revert does not move it')
    const slow = decide({ rollout: rollout(), reports: [report(P1, true, V2, 20, 300)], current: V1, regions, now: T0 + 1000 })
    assert.match(slow?.rollout.reason ?? '', /latency p95 500 ms > 50 ms/)
    const rel = rollout({}, { sla: { relativeLatencyFactor: 2, minSamples: 10 } })
    const relD = decide({ rollout: rel, reports: [report(P1, true, V2, 20, 40), report(P2, false, V1, 20, 4)], current: V1, regions, now: T0 + 1000 })
    assert.match(relD?.rollout.reason ?? '', /2 x current version's 5 ms/)
    const sick = decide({ rollout: rollout(), reports: [], current: V1, unhealthy: '3 consecutive failures', regions, now: T0 + 1000 })
    assert.match(sick?.rollout.reason ?? '', /HealthCheck: 3 consecutive failures/)
    // a canary that somehow became current goes back in the same decision
    const back = decide({ rollout: rollout({ state: 'promoting' }), reports: [report(P1, true, V2, 20, 3, 20)], current: V2, regions, now: T0 + 1000 })
    assert.equal(back?.current, V1)
  })

  it('only the cohort counts for the canary; without autoRevert a breach fails it; the deadline ends it', () => {
    // canary invocations reported by a peer outside the cohort are not the canary's figures
    const f = figuresOf(rollout(), [report(P2, false, V2, 20, 3, 20)])
    assert.equal(f.canary.count, 0)
    const noRevert = rollout({}, { autoRevert: false })
    assert.equal(decide({ rollout: noRevert, reports: [report(P1, true, V2, 20, 3, 20)], current: V1, regions, now: T0 + 1000 })?.rollout.state, 'failed')
    const late = decide({ rollout: rollout(), reports: [report(P1, true, V2, 3, 3)], current: V1, regions, now: T0 + 61_000 })
    assert.equal(late?.rollout.state, 'reverted')
    assert.match(late?.rollout.reason ?? '', /healthyDeadline/)
    const manual = rollout({}, { autoPromote: false })
    const waiting = decide({ rollout: manual, reports: [report(P1, true, V2, 20, 3)], current: V1, regions, now: T0 + 11_000 })
    assert.equal(waiting?.rollout.state, 'canary')
    assert.equal(decide({ rollout: waiting!.rollout, reports: [report(P1, true, V2, 20, 3)], current: V1, regions, now: T0 + 12_000 }), null)
    assert.equal(slaBreach(rollout(), { canary: { count: 5, errors: 5, errorRate: 1, p95Ms: 1 }, baseline: { count: 0, errors: 0, errorRate: 0, p95Ms: null } }), null, 'below minSamples: no verdict')
  })

  it('cohort: region, and the share of peers while in canary', () => {
    const r = rollout({}, { canaryShare: 0.5 })
    const peers = Array.from({ length: 200 }, (_, i) => `12D3KooW${String(i).padStart(44, 'A')}`)
    const inside = peers.filter(p => inCohort(r, p, 'eu')).length
    assert.ok(inside > 60 && inside < 140, `${inside} of 200`)
    assert.equal(peers.some(p => inCohort(r, p, 'us')), false)
    assert.equal(inCohort({ ...r, state: 'promoting', cohort: ['eu', 'us'] }, peers[0], 'us'), true)
    assert.equal(inCohort({ ...r, state: 'reverted' }, peers[0], 'eu'), false)
  })
})
