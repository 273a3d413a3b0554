/**
 * Core sinks on real in-process peers: snapshots of counters and log
 * segments reach a local core receiver (HTTP, gzip NDJSON) every interval,
 * shipped by one replica; a core outage is ridden out by the on-disk buffer
 * with back-off; a killed shipper is replaced; after deduplication on the
 * idempotency keys every window and every log entry arrives exactly once.
 * Also: the region policy, emitted records, the directory destination.
 */
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createMeshNode } from '../../src/node/index.js'
import type { MeshNode } from '../../src/node/index.js'
import { parseManifests } from '../../src/services/manifests/index.js'
import { createLogger } from '../../src/telemetry/index.js'
import type { CrdtBackend } from '../../src/crdt/service/index.js'
import { parseMarkDoc } from '../../src/sinks/index.js'
import { CoreReceiver } from '../../examples/iot/core-receiver.js'
import { TestMesh } from '../registry/mesh.js'
import { waitFor } from '../helpers/wait.js'
import { FLEET_MANIFEST } from '../helpers/sink-fleet.js'

const REGIONS = ['eu-west', 'us-east', 'ap-south']

describe('sinks: snapshots to a core, exactly once after dedup', function () {
  this.timeout(180_000)
  let mesh: TestMesh
  const nodes: MeshNode[] = []
  const core = new CoreReceiver()
  let url = ''

  before(async function () {
    url = await core.start()
    mesh = new TestMesh()
    await mesh.init()
    for (let i = 0; i < REGIONS.length; i++) {
      const config = mesh.config(i, { region: REGIONS[i] })
      const node = createMeshNode({ config: { ...config, api: { ...config.api, trustLoopback: true } }, bootstrapPeers: mesh.bootstrap(), logger: createLogger({ level: 'silent' }) })
      await node.start()
      mesh.nodes.push(node)
      nodes.push(node)
    }
    await waitFor('every registry to list every peer', () => nodes.every(n => n.registry.list().length === nodes.length), { timeoutMs: 30_000 })
    await nodes[2].manifests.apply(parseManifests(FLEET_MANIFEST))
    for (const [i, n] of nodes.entries()) await waitFor(`peer ${i} to know fleet`, () => n.crdt?.has('fleet') === true && n.crdt.isLocal('fleet') === (i < 2), { timeoutMs: 30_000 })
  })

  after(async function () {
    await mesh?.close()
    await core.stop()
  })

  const crdt = (n: MeshNode): CrdtBackend => n.crdt as CrdtBackend
  const windows = (): number[] => core.of('snapshot').map(r => r.window as number).sort((a, b) => a - b)

  it('refuses a sink outside the data\'s regions without consent', async function () {
    const m = (consent: boolean): string => `apiVersion: edge/v1
kind: Sink
metadata: { name: offshore }
spec:
  source: { service: fleet }
  destination: { directory: { path: /tmp/nowhere } }
  region: ap-south
${consent ? '  consent: { crossRegion: true }\n' : ''}`
    await assert.rejects(nodes[0].manifests.apply(parseManifests(m(false))), { code: 'REGION_CONSENT_REQUIRED' })
    await assert.rejects(nodes[0].manifests.apply(parseManifests(`apiVersion: edge/v1
kind: Sink
metadata: { name: nosvc }
spec:
  source: { service: nope }
  destination: { directory: { path: /tmp/nowhere } }
`)), { code: 'SERVICE_NOT_FOUND' })
    assert.equal((await nodes[0].manifests.apply(parseManifests(m(true))))[0].kind, 'Sink')
  })

  it('ships every window and every log entry once, across a core outage and a killed shipper', async function () {
    await nodes[1].manifests.apply(parseManifests(`apiVersion: edge/v1
kind: Sink
metadata: { name: core }
spec:
  source: { service: fleet, logs: [alerts] }
  intervalMs: 1000
  destination: { http: { url: "${url}", gzip: true } }
  batch: { maxRecords: 50 }
  region: eu-west
`))
    let appended = 0
    let stop = false
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        const n = nodes[i % 2]
        if (n.status !== 'started') { await new Promise(resolve => setTimeout(resolve, 20)); continue }
        try {
          await crdt(n).addCounter('fleet', `v${i % 5}`, 1)
          await crdt(n).appendLog('fleet', 'alerts', [`alert-${i}`])
          appended++
        } catch {
          // the killed peer refuses: the next iteration writes on the other
        }
        await new Promise(resolve => setTimeout(resolve, 20))
      }
    })()
    await waitFor('three windows at the core', () => windows().length >= 3, { timeoutMs: 30_000, intervalMs: 100 })
    // a core outage of a few intervals: batches wait on disk and are retried
    core.available = false
    const outageStart = windows().length
    await new Promise(resolve => setTimeout(resolve, 4000))
    assert.equal(windows().length, outageStart, 'nothing delivered during the outage')
    core.available = true
    await waitFor('delivery to resume after the outage', () => windows().length >= outageStart + 4, { timeoutMs: 60_000, intervalMs: 100 })
    // kill the shipper (the lowest live replica id): the other replica takes over
    const shipper = [nodes[0], nodes[1]].sort((a, b) => a.libp2p.peerId.toString() < b.libp2p.peerId.toString() ? -1 : 1)[0]
    const survivor = shipper === nodes[0] ? nodes[1] : nodes[0]
    const beforeKill = windows().length
    await shipper.stop()
    await waitFor('the surviving replica to ship', () => windows().length >= beforeKill + 3 && core.of('snapshot').some(r => r.takenBy === survivor.libp2p.peerId.toString()), { timeoutMs: 60_000, intervalMs: 100 })
    stop = true
    await writer
    // everything appended on the survivor (and replicated from the shipper before it stopped) reaches the core
    const expected = (await crdt(survivor).readLog('fleet', 'alerts')).entries.map(e => e.value)
    await waitFor('every log entry at the core', () => core.of('log').length >= expected.length, { timeoutMs: 60_000, intervalMs: 200 })
    const got = core.of('log').map(r => r.value as string)
    assert.equal(new Set(got).size, got.length, 'each log entry once after dedup')
    for (const v of expected) assert.ok(got.includes(v), `${v} reached the core`)
    // windows: consecutive, each once (the keys make re-shipments duplicates)
    const ws = windows()
    for (let i = 1; i < ws.length; i++) assert.equal(ws[i], ws[i - 1] + 1, `window ${ws[i - 1] + 1} is missing (${ws.join(',')})`)
    // the survivor's mark (by dot) in the replicated kv: compact, the shippers listed in the add-wins set
    const me = survivor.libp2p.peerId.toString()
    const doc = await waitFor('the survivor\'s mark', async () => parseMarkDoc((await crdt(survivor).get('fleet', `_sink/core/marks/${me}`)).value))
    assert.ok(doc.window >= ws[ws.length - 3], `mark window ${doc.window}`)
    assert.ok(Object.keys(doc.logs.alerts.upTo).length >= 1)
    assert.ok((await crdt(survivor).members('fleet', '_sink/core/shippers')).members.includes(me))
    console.log(`      ${ws.length} windows, ${got.length} log entries of ${appended} appends, ${core.duplicates} duplicate records dropped by the core`)
  })

  it('emitted records and the directory destination', async function () {
    const dir = join(mesh.dir, 'core-files')
    await nodes[2].manifests.apply(parseManifests(`apiVersion: edge/v1
kind: Sink
metadata: { name: files }
spec:
  destination: { directory: { path: "${dir}" } }
`))
    const sinks = nodes[2].sinks
    assert.ok(sinks != null)
    await waitFor('the sink known on peer 2', () => sinks.list().includes('files'), { timeoutMs: 10_000 })
    await Promise.all(Array.from({ length: 30 }, async (_, i) => sinks.emit('files', JSON.stringify({ vehicle: `v${i}`, alert: true }))))
    await assert.rejects(sinks.emit('nope', 'x'), { code: 'SINK_NOT_FOUND' })
    const lines = await waitFor('30 records in the directory', async () => {
      const files = (await readdir(dir).catch(() => [] as string[])).filter(f => f.endsWith('.ndjson'))
      const all = (await Promise.all(files.map(async f => readFile(join(dir, f), 'utf8')))).join('').split('\n').filter(l => l !== '')
      return all.length >= 30 ? all : undefined
    }, { timeoutMs: 20_000, intervalMs: 100 })
    const recs = lines.map(l => JSON.parse(l) as { key: string, record: { vehicle: string } })
    assert.equal(new Set(recs.map(r => r.key)).size, 30)
    assert.equal(recs[0].record.vehicle.startsWith('v'), true)
  })
})
