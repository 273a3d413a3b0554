import assert from 'node:assert/strict'
import { createCatalogue } from '../../src/catalogue/index.js'
import type { Catalogue } from '../../src/catalogue/index.js'
import { parseRolloutSpec, RolloutService, RolloutInProgressError, RolloutFinishedError } from '../../src/rollouts/index.js'

const V1 = 'bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'
const V2 = 'bafkreibbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'
const SELF = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'
const OTHER = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'

describe('rollouts: the service on one catalogue (driver, figures, routing)', () => {
  let catalogue: Catalogue
  let now: number
  let svc: RolloutService
  let region: string
  let live: string[]

  beforeEach(async () => {
    now = Date.parse('2026-12-07T00:00:00.000Z')
    region = 'eu'
    live = [SELF]
    catalogue = createCatalogue({ peerId: SELF, now: () => now })
    await catalogue.start()
    await catalogue.deployVersion('fn1', { cid: V1, abi: 'wasi', size: 10 })
    await catalogue.deployVersion('fn1', { cid: V2, abi: 'wasi', size: 10 }, { makeCurrent: false })
    svc = new RolloutService({ catalogue, region: () => region, regions: () => ['eu', 'us'], live: () => live, now: () => now }, { reportMs: 0 })
  })

  afterEach(async () => {
    await svc.stop()
    await catalogue.stop()
  })

  it('adds a version without moving current; drives pending -> canary -> promoted with one current', async () => {
    assert.equal(catalogue.function('fn1')?.current, V1)
    const spec = parseRolloutSpec({ canaryRegions: ['eu'], minHealthyTime: '5s', stagger: 0, maxParallel: 0, sla: { errorRate: 0.1, minSamples: 3 } })
    await svc.begin('fn1', V2, spec)
    await assert.rejects(svc.begin('fn1', V2, spec), RolloutInProgressError)
    await svc.tick()
    assert.equal(svc.get('fn1').state, 'canary')
    assert.equal(svc.selectVersion('fn1'), V2, 'eu is the cohort')
    region = 'us'
    assert.equal(svc.selectVersion('fn1'), undefined, 'us keeps the current version')
    assert.equal(svc.mayServe(V2), false, 'outside the cohort the canary is refused')
    assert.equal(svc.mayServe(V1), true)
    region = 'eu'
    for (let i = 0; i < 5; i++) svc.observe('fn1', V2, 2, true)
    now += 6000
    await svc.tick() // report, then canary -> promoting
    const p = svc.get('fn1')
    assert.equal(p.state, 'promoting', JSON.stringify(p))
    assert.equal(p.figures.canary.count, 5)
    assert.equal(catalogue.function('fn1')?.current, V1)
    now += 1000
    await svc.tick()
    assert.equal(svc.get('fn1').state, 'promoted')
    assert.equal(catalogue.function('fn1')?.current, V2)
    assert.equal(svc.get('fn1').driver, undefined, 'no lease after the end')
    assert.deepEqual(catalogue.function('fn1')?.events.map(e => e.type).slice(-4), ['rollout-started', 'rollout-step', 'rollout-step', 'rollout-promoted'])
    await assert.rejects(svc.abort('fn1'), RolloutFinishedError)
  })

  it('reverts on errors; waits while another peer holds a live lease; takes over when it expires', async () => {
    const spec = parseRolloutSpec({ canaryRegions: ['eu'], minHealthyTime: '60s', sla: { errorRate: 0.1, minSamples: 3 } })
    await svc.begin('fn1', V2, spec)
    const r = catalogue.function('fn1')?.rollout
    assert.ok(r != null)
    // another peer drives (its lease is valid for 6 s)
    await catalogue.writeRollout('fn1', { expect: r.id, rollout: { ...r, state: 'canary', cohort: ['eu'], canaryAt: new Date(now).toISOString(), lease: { holder: OTHER, until: new Date(now + 6000).toISOString() } } })
    live = [SELF, OTHER]
    for (let i = 0; i < 4; i++) svc.observe('fn1', V2, 2, false)
    await svc.tick()
    // the owner may be either peer; only after the lease expires does this one act, if it is the owner
    live = [SELF]
    assert.equal(svc.get('fn1').state, 'canary', 'the lease of the other peer holds')
    now += 7000
    await svc.tick()
    const end = svc.get('fn1')
    assert.equal(end.state, 'reverted')
    assert.match(end.reason ?? '', /error rate 1 > 0.1/)
    assert.equal(catalogue.function('fn1')?.current, V1)
    assert.equal(svc.selectVersion('fn1'), undefined)
    assert.equal(svc.mayServe(V2), true, 'no active rollout: no gate')
  })

  it('an unhealthy HealthCheck verdict about the canary reverts the rollout (one decision, with its reason)', async () => {
    await svc.begin('fn1', V2, parseRolloutSpec({ canaryRegions: ['eu'], minHealthyTime: '60s' }))
    await svc.tick()
    assert.equal(svc.get('fn1').state, 'canary')
    now += 1000
    await catalogue.recordEvent('fn1', { type: 'unhealthy', id: V2, reason: '3 consecutive failed health checks (edge-func-health): status 500' })
    await svc.tick()
    const end = svc.get('fn1')
    assert.equal(end.state, 'reverted')
    assert.match(end.reason ?? '', /HealthCheck: 3 consecutive failed health checks/)
    assert.equal(catalogue.function('fn1')?.current, V1)
    assert.equal(catalogue.function('fn1')?.events.filter(e => e.type === 'rollout-reverted').length, 1)
  })

  it('a restarted peer goes on from its own reported figures', async () => {
    await svc.begin('fn1', V2, parseRolloutSpec({ canaryRegions: ['eu'], minHealthyTime: '60s' }))
    await svc.tick()
    for (let i = 0; i < 3; i++) svc.observe('fn1', V2, 2, true)
    await svc.tick()
    assert.equal(svc.get('fn1').figures.canary.count, 3)
    await svc.stop()
    svc = new RolloutService({ catalogue, region: () => region, regions: () => ['eu', 'us'], live: () => live, now: () => now }, { reportMs: 0 })
    svc.observe('fn1', V2, 2, true)
    await svc.tick()
    assert.equal(svc.get('fn1').figures.canary.count, 4)
  })

  it('operator abort and promote are single decisions', async () => {
    const spec = parseRolloutSpec({ canaryRegions: ['eu'] })
    await svc.begin('fn1', V2, spec)
    const a = await svc.abort('fn1')
    assert.equal(a.state, 'reverted')
    assert.equal(catalogue.function('fn1')?.current, V1)
    await svc.begin('fn1', V2, spec)
    const p = await svc.promote('fn1')
    assert.equal(p.state, 'promoted')
    assert.equal(catalogue.function('fn1')?.current, V2)
  })
})
