/**
 * e2e (issue 18 follow-up): the core sink delivers exactly once after
 * deduplication across a hard kill. Three real `dcis start` processes
 * (LocalMesh); the `fleet` service has two replicas, the `core` sink ships
 * counter snapshots and the `alerts` log every second to a core receiver
 * in this process; clients write counters and alerts over HTTP to both
 * replicas. The shipping replica (lowest live peer id) is SIGKILLed
 * while the core is briefly down (its batches wait in its spool, not marked
 * shipped): the other takes over, ships those windows and log segments
 * again under the same idempotency keys; the killed peer restarts on its
 * data dir (its spool may re-send); the core keeps one copy of each. Checks: windows consecutive and each once; every
 * alert the survivor holds at the core exactly once.
 *
 *   SINK_KILL_SEED=n to vary the seed (printed on failure).
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LocalMesh } from '../../src/cli/local-mesh.js'
import type { LocalPeer } from '../../src/cli/local-mesh.js'
import { CoreReceiver } from '../../examples/iot/core-receiver.js'
import { cliCommand } from '../helpers/cli.js'
import { freePortBlock } from '../helpers/ports.js'
import { waitFor } from '../helpers/wait.js'
import { tryHttp } from '../helpers/http.js'
import type { Json } from '../helpers/http.js'

const SEED = Number(process.env.SINK_KILL_SEED ?? 1818)

async function http (peer: LocalPeer, method: string, path: string, body?: string, contentType = 'application/json'): Promise<{ status: number, json: Json }> {
  return tryHttp(peer.apiUrl, method, path, body, contentType)
}

describe('e2e: sink exactly once across a SIGKILLed shipper (real processes)', function () {
  this.timeout(300_000)
  let dir: string
  let mesh: LocalMesh | undefined
  const core = new CoreReceiver()
  let failed = false

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'dcis-sink-kill-'))
    const url = await core.start()
    mesh = new LocalMesh({ nodes: 3, regions: ['eu-west', 'us-east', 'ap-south'], basePort: await freePortBlock(3), dataDir: dir, logLevel: 'info', command: cliCommand() })
    await mesh.start()
    await waitFor('a fully connected 3-peer mesh', async () => LocalMesh.fullyConnected(await mesh!.snapshots()), { timeoutMs: 120_000 })
    const yaml = `apiVersion: edge/v1
kind: EdgeStatefulService
metadata: { name: fleet }
spec:
  replicas: 2
  dataSharding: { strategy: geographic, zones: [eu-west-a, us-east-a] }
  consistency: { mode: eventual, maxStalenessMs: 100 }
`
    await waitFor('fleet placed on its two zones', async () => {
      await http(mesh!.peers[0], 'POST', '/v1/manifests', yaml, 'application/yaml')
      const s = await http(mesh!.peers[0], 'GET', '/v1/services/fleet')
      return s.status === 200 && (s.json.replicas as unknown[]).length === 2
    }, { timeoutMs: 60_000, intervalMs: 1000 })
    await waitFor('the replicas serving fleet', async () => {
      for (const p of mesh!.peers.slice(0, 2)) if ((await http(p, 'GET', '/v1/services/fleet')).json?.local !== true) return false
      return true
    }, { timeoutMs: 30_000 })
    const sink = `apiVersion: edge/v1
kind: Sink
metadata: { name: core }
spec:
  source: { service: fleet, logs: [alerts] }
  intervalMs: 1000
  destination: { http: { url: "${url}", gzip: true } }
  batch: { maxRecords: 50 }
  region: eu-west
`
    const r = await http(mesh.peers[0], 'POST', '/v1/manifests', sink, 'application/yaml')
    assert.ok(r.status < 300, `sink manifest: ${r.status} ${JSON.stringify(r.json)}`)
  })

  afterEach(function () { if (this.currentTest?.state === 'failed') failed = true })
  after(async function () {
    this.timeout(60_000)
    await mesh?.stop()
    await core.stop()
    if (failed) console.log(`      kept ${dir} (seed ${SEED})`)
    else if (dir != null) await rm(dir, { recursive: true, force: true })
  })

  it(`every window and every alert once at the core after kill -9 of the shipper (seed ${SEED})`, async function () {
    const m = mesh as LocalMesh
    const windows = (): number[] => core.of('snapshot').map(r => r.window as number).sort((a, b) => a - b)
    const replicas = m.peers.slice(0, 2)
    let s = SEED
    const rnd = (): number => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648 }
    let stop = false
    let acked = 0
    const heldAtKill = new Set<string>()
    let killedAt = 0
    const [shipperIndex] = [...replicas.keys()].sort((a, b) => replicas[a].peerId < replicas[b].peerId ? -1 : 1)
    /** alert values the shipper's writer had acknowledged before the kill */
    const shipperAcked: Array<{ value: string, at: number }> = []
    const writers = replicas.map(async (p, w) => {
      for (let i = 0; !stop; i++) {
        if (!p.exited) {
          const c = await http(p, 'POST', `/v1/services/fleet/counters/v${Math.floor(rnd() * 5)}`, JSON.stringify({ delta: 1 })).catch(() => ({ status: 0 }))
          const a = await http(p, 'POST', '/v1/services/fleet/logs/alerts', JSON.stringify({ entries: [`alert-${w}-${i}`] })).catch(() => ({ status: 0 }))
          if (c.status === 200 && a.status < 300) acked++
          if (w === shipperIndex && a.status < 300) shipperAcked.push({ value: `alert-${w}-${i}`, at: Date.now() })
        }
        await new Promise(resolve => setTimeout(resolve, 30))
      }
    })
    try {
      await waitFor('three windows at the core', () => windows().length >= 3, { timeoutMs: 60_000, intervalMs: 100 })
      const sorted = [...replicas].sort((a, b) => a.peerId < b.peerId ? -1 : 1)
      const [shipper, survivor] = sorted
      assert.ok(core.of('snapshot').some(r => r.takenBy === shipper.peerId), 'the lowest replica id ships')
      // the core is down for a moment, so the shipper holds undelivered
      // batches in its spool (not marked shipped) when it is killed at a
      // seeded moment: the survivor must ship those windows again
      core.available = false
      await new Promise(resolve => setTimeout(resolve, 2000 + Math.floor(rnd() * 1000)))
      const beforeKill = windows().length
      const exited = new Promise<void>(resolve => shipper.process?.once('exit', () => { resolve() }))
      shipper.process?.kill('SIGKILL')
      await exited
      // alerts the shipper acknowledged but had not replicated when it died
      // come back with it later, with clocks older than windows already
      // shipped: the sink's log cursors (HLC order) never ship them. KNOWN
      // BUG (docs/status.md, issue 18): they are counted and printed here,
      // and left out of the exactly-once check below
      const atKill = await http(survivor, 'GET', '/v1/services/fleet/logs/alerts')
      for (const e of (atKill.json?.entries ?? []) as Array<{ value: string }>) heldAtKill.add(e.value)
      killedAt = Date.now()
      core.available = true
      await waitFor('the survivor to ship', () => windows().length >= beforeKill + 4 && core.of('snapshot').some(r => r.takenBy === survivor.peerId), { timeoutMs: 120_000, intervalMs: 200 })
      // the killed peer restarts on its data dir with its spool: what it re-sends is deduplicated
      await m.spawnPeer(shipper)
      await waitFor('the restarted peer back in the mesh', async () => (await http(shipper, 'GET', '/v1/services/fleet')).json?.local === true, { timeoutMs: 120_000, intervalMs: 500 })
      const afterRestart = windows().length
      await waitFor('two more windows after the restart', () => windows().length >= afterRestart + 2, { timeoutMs: 60_000, intervalMs: 200 })
    } finally {
      stop = true
      await Promise.all(writers)
    }
    const survivor = [...replicas].sort((a, b) => a.peerId < b.peerId ? -1 : 1)[1]
    // the last writes replicate: both replicas list the same alerts
    const log = await waitFor('both replicas hold the same alerts', async () => {
      const [a, b] = await Promise.all(replicas.map(async p => await http(p, 'GET', '/v1/services/fleet/logs/alerts')))
      const values = (r: typeof a): string => JSON.stringify(((r.json?.entries ?? []) as Array<{ value: string }>).map(e => e.value))
      return a.status === 200 && b.status === 200 && values(a) === values(b) ? (replicas[0] === survivor ? a : b) : undefined
    }, { timeoutMs: 60_000, intervalMs: 200 })
    assert.equal(log.status, 200)
    const late = new Set(shipperAcked.filter(x => killedAt > 0 && x.at <= killedAt && !heldAtKill.has(x.value)).map(x => x.value))
    if (late.size > 0) console.log(`      ${late.size} alert(s) acknowledged by the shipper but not replicated before the kill: left out (known bug, issue 18)`)
    const expected = (log.json.entries as Array<{ value: string }>).map(e => e.value).filter(v => !late.has(v))
    await waitFor('every alert at the core', () => { const got = new Set(core.of('log').map(r => r.value as string)); return expected.every(v => got.has(v)) }, { timeoutMs: 120_000, intervalMs: 200 })
    const got = core.of('log').map(r => r.value as string)
    assert.equal(new Set(got).size, got.length, `each alert once after dedup (seed ${SEED})`)
    const ws = windows()
    assert.equal(new Set(ws).size, ws.length, 'each window once')
    for (let i = 1; i < ws.length; i++) assert.equal(ws[i], ws[i - 1] + 1, `window ${ws[i - 1] + 1} is missing (${ws.join(',')}) (seed ${SEED})`)
    console.log(`      ${ws.length} windows, ${got.length} alerts of ${acked} acknowledged writes, ${core.duplicates} duplicates dropped by the core`)
  })
})
