/**
 * The IoT case study end to end on three regional peers (examples/iot):
 * events through the Wasm filter (host interface) update per-vehicle
 * counters on every replica, alerts reach the alerts log in the other
 * regions and the core at once, vehicle metadata comes through the edge
 * cache (misses once per vehicle and peer), snapshots reach the core; a
 * function without grants gets errors in its answer, and the peer serves on.
 */
import assert from 'node:assert/strict'
import { event, startIotMesh } from '../../examples/iot/mesh.js'
import type { IotMesh } from '../../examples/iot/mesh.js'
import type { CrdtBackend } from '../../src/crdt/service/index.js'
import { waitFor } from '../helpers/wait.js'

describe('iot case study: edge to core', function () {
  this.timeout(180_000)
  let iot: IotMesh
  const dec = new TextDecoder()
  const enc = new TextEncoder()

  before(async function () {
    iot = await startIotMesh({ sinkIntervalMs: 1000 })
  })

  after(async function () {
    await iot?.close()
  })

  const crdt = (i: number): CrdtBackend => iot.nodes[i].crdt as CrdtBackend

  it('filters a batch: drops noise, counts per vehicle on every replica, flags alerts by the cached metadata', async function () {
    const batch = [
      event(1, 'speed', 88),
      event(1, 'brake_temp', 200),
      event(1, 'brake_temp', 9999), // noise
      event(2, 'brake_temp', 400), // above v-2's 350: alert
      event(10, 'brake_temp', 400), // v-10 is a hauler (450): no alert
      '{"sensor":"speed","value":3}', // no vehicle: noise
      event(3, 'speed', Number.NaN).replace('NaN', '"x"') // not a number: noise
    ].join('\n')
    const r = await iot.nodes[0].functions?.invoker.invoke('iot-filter', enc.encode(batch))
    assert.ok(r != null)
    assert.deepEqual(JSON.parse(dec.decode(r.output)), { accepted: 4, dropped: 3, alerts: 1, errors: 0 })
    for (const i of [0, 1, 2]) {
      await waitFor(`counters on peer ${i}`, async () => (await crdt(i).counter('fleet', 'v-1')).value === 2 && (await crdt(i).counter('fleet', 'v-2')).value === 1, { timeoutMs: 20_000, intervalMs: 20 })
    }
    // the alert is in the alerts log in the other regions and was emitted to the core at once
    await waitFor('the alert on ap-south', async () => (await crdt(2).readLog('fleet', 'alerts')).entries.some(e => e.value.includes('"v-2"')), { timeoutMs: 20_000, intervalMs: 20 })
    await waitFor('the alert at the core', () => iot.core.of('event').some(r => JSON.stringify(r.record).includes('"v-2"')), { timeoutMs: 20_000, intervalMs: 50 })
    // the metadata was read through the cache: one backend request per vehicle with a brake reading
    const misses = iot.metadataHits()
    await iot.nodes[0].functions?.invoker.invoke('iot-filter', enc.encode(event(2, 'brake_temp', 100)))
    assert.equal(iot.metadataHits(), misses)
  })

  it('snapshots of the counters and the alerts log reach the core', async function () {
    await waitFor('a snapshot with v-1 = 2 and the alert at the core', () =>
      iot.core.of('counter').some(r => r.counter === 'v-1' && r.value === 2) && iot.core.of('log').some(r => String(r.value).includes('"v-2"')), { timeoutMs: 30_000, intervalMs: 100 })
  })

  it('serves GET /v1/caches/{name}/{key} with the hit ratio in the metrics', async function () {
    const url = iot.nodes[1].api?.url as string
    const a = await fetch(`${url}/v1/caches/vehicles/v-4`)
    assert.equal(a.status, 200)
    assert.equal(a.headers.get('x-dcis-cache'), 'miss')
    assert.equal(a.headers.get('x-dcis-origin-region'), 'us-east')
    assert.equal((JSON.parse(await a.text()) as { id: string }).id, 'v-4')
    const b = await fetch(`${url}/v1/caches/vehicles/v-4`)
    assert.equal(b.headers.get('x-dcis-cache'), 'hit')
    await b.text()
    assert.equal((await fetch(`${url}/v1/caches/vehicles/v-999999`)).status, 404)
    assert.equal((await fetch(`${url}/v1/caches/nope/v-1`)).status, 404)
    const metrics = await (await fetch(`${url}/metrics`)).text()
    // one hit of three reads on this peer (miss, hit, miss of an absent key)
    assert.match(metrics, /dcis_cache_hit_ratio\{cache="vehicles"\} 0\.333/)
  })

  it('a function without grants gets errors inside it; the peer keeps serving', async function () {
    const node = iot.nodes[1]
    const store = node.functions?.store
    assert.ok(store != null)
    const bytes = await store.bytesOf(iot.functionId)
    await store.deploy(bytes, { name: 'iot-filter-nogrants', abi: 'reactor' })
    // (grants belong to the loaded module: the same bytes under another name share them, so this runs last)
    const r = await node.functions?.invoker.invoke('iot-filter-nogrants', enc.encode(event(5, 'brake_temp', 500)))
    assert.ok(r != null)
    const out = JSON.parse(dec.decode(r.output)) as { accepted: number, errors: number }
    assert.equal(out.accepted, 1)
    assert.ok(out.errors >= 2, `denied calls are counted (${JSON.stringify(out)})`)
    assert.equal((await crdt(1).counter('fleet', 'v-5')).value, 0)
  })
})
