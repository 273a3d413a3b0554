/**
 * Health checks with rollback through the HTTP API: a HealthCheck manifest
 * probes the function; a passing version becomes known-good; after
 * failureThreshold consecutive failures the current version reverts to the
 * last known-good one, with an event, a log line and a metric.
 */
import assert from 'node:assert/strict'
import { cidOf, fixture } from './helpers.js'
import { waitFor } from '../helpers/wait.js'
import { buildExamples, deploy, example, http, invoke, removeDir, startFnPeer } from './integration-mesh.js'
import type { FnPeer } from './integration-mesh.js'

const PROBE = '{"min":0,"max":50,"events":[{"sensor":"probe","value":21}]}'

function healthCheck (name: string, fn: string, opts: { interval?: number, threshold?: number, action?: string, path?: string } = {}): string {
  return [
    'apiVersion: edge/v1',
    'kind: HealthCheck',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    `  function: ${fn}`,
    `  path: ${opts.path ?? `/v1/functions/${fn}`}`,
    `  intervalSeconds: ${opts.interval ?? 3600}`,
    `  failureThreshold: ${opts.threshold ?? 3}`,
    `  recoveryAction: ${opts.action ?? 'rollback'}`,
    '  request:',
    `    body: '${PROBE}'`,
    '  expect:',
    '    status: 200',
    '    bodyContains: \'"accepted":1\'',
    ''
  ].join('\n')
}

describe('wasm integration: health checks and rollback', function () {
  this.timeout(60_000)
  let peer: FnPeer

  before(async function () {
    this.timeout(240_000)
    await buildExamples()
    peer = await startFnPeer({ name: 'health', runtime: { workers: 1 } })
  })

  after(async () => {
    await peer?.stop()
    if (peer != null) await removeDir(peer.dir)
  })

  async function apply (yaml: string): Promise<{ status: number, text: string }> {
    const res = await http(`${peer.url}/v1/manifests`, { method: 'POST', body: yaml, type: 'application/yaml' })
    return { status: res.status, text: res.text }
  }

  it('rolls back to the last known-good version after failureThreshold consecutive failures', async () => {
    const good = await example('sensor-filter')
    const goodId = await cidOf(good)
    assert.equal((await deploy(peer, good, 'name=filter&memoryMb=32')).status, 201)
    assert.equal((await apply(healthCheck('filter-health', 'filter'))).status, 201)
    const pass = await peer.fns.health.runOnce('filter-health')
    assert.equal(pass.ok, true, pass.reason)
    assert.equal(peer.fns.store.get('filter')?.versions[0].knownGood, true)

    // v2 traps on every call
    const bad = await fixture('trap')
    const badId = await cidOf(bad)
    assert.equal((await deploy(peer, bad, 'name=filter')).status, 201)
    assert.equal((await invoke(peer, 'filter', PROBE)).status, 502)
    for (let i = 1; i <= 2; i++) {
      const r = await peer.fns.health.runOnce('filter-health')
      assert.equal(r.ok, false)
      assert.equal(r.id, badId)
      assert.equal(peer.fns.store.get('filter')?.current, badId, `no rollback after ${i} failure(s)`)
    }
    const third = await peer.fns.health.runOnce('filter-health')
    assert.equal(third.rolledBackTo, goodId)

    const d = (await http(`${peer.url}/v1/functions/filter`)).json()
    assert.equal(d.id, goodId)
    assert.equal(d.version, 1)
    const rollback = d.events.find((e: { type: string }) => e.type === 'rollback')
    assert.equal(rollback.id, goodId)
    assert.equal(rollback.from, badId)
    assert.match(rollback.reason, /3 consecutive failed health checks/)
    assert.match(rollback.reason, /status 502/)
    assert.equal(d.versions.length, 2, 'the bad version stays in the history')
    assert.equal(d.health[0].name, 'filter-health')
    const res = await invoke(peer, 'filter', PROBE)
    assert.equal(res.status, 200)
    assert.match(res.text, /"accepted":1/)
    assert.match(await peer.metrics.getSingleMetricAsString('dcis_wasm_rollbacks_total'), /function="filter"} 1/)
  })

  it('the check runs on its interval by itself (timers), and stops with the service', async () => {
    assert.equal((await deploy(peer, await example('sensor-filter'), 'name=timed&memoryMb=32')).status, 201)
    assert.equal((await deploy(peer, await fixture('echo'), 'name=timed')).status, 201)
    // v2 (echo) answers 200 but without "accepted":1: a failing body check; v1 was never known-good
    assert.equal((await apply(healthCheck('timed-health', 'timed', { interval: 0.1, threshold: 2 }))).status, 201)
    await waitFor('rollback-impossible event', () => (peer.fns.store.get('timed')?.events ?? []).some(e => e.type === 'rollback-impossible'), { timeoutMs: 10_000, intervalMs: 5 })
    const ev = peer.fns.store.get('timed')?.events.filter(e => e.type === 'rollback-impossible') ?? []
    assert.equal(ev.length, 1, 'recorded once per failure streak')
    assert.match(ev[0].reason ?? '', /does not contain/)
    assert.match(ev[0].reason ?? '', /no known-good version/)
    assert.equal(await peer.fns.health.remove('timed-health'), true)
  })

  it('recoveryAction none records the failure and changes nothing', async () => {
    assert.equal((await deploy(peer, await fixture('trap'), 'name=fragile')).status, 201)
    assert.equal((await apply(healthCheck('fragile-health', 'fragile', { action: 'none', threshold: 1 }))).status, 201)
    const r = await peer.fns.health.runOnce('fragile-health')
    assert.equal(r.ok, false)
    const rec = peer.fns.store.get('fragile')
    assert.equal(rec?.events.at(-1)?.type, 'unhealthy')
    assert.equal(rec?.versions.length, 1)
  })

  it('a check of a function not deployed here fails without acting; a wrong path is refused', async () => {
    assert.equal((await apply(healthCheck('ghost-health', 'ghost', { threshold: 1 }))).status, 201)
    const r = await peer.fns.health.runOnce('ghost-health')
    assert.equal(r.ok, false)
    assert.equal(r.status, 404)
    const wrong = await apply(healthCheck('bad-path', 'filter', { path: '/v1/functions/other' }))
    assert.equal(wrong.status, 400)
    assert.match(wrong.text, /spec\.path/)
    const badSpec = await apply(healthCheck('bad-threshold', 'filter').replace('failureThreshold: 3', 'failureThreshold: 0'))
    assert.equal(badSpec.status, 400)
    assert.match(badSpec.text, /failureThreshold/)
  })
})
