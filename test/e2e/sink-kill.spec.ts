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
 * alert a replica acknowledged to its client (HTTP 2xx) at the core exactly
 * once — those the shipper acked but had not replicated when it died too:
 * they come back with it, with clocks older than windows already shipped,
 * and ship under a later window (marks by dot, docs/sinks.md).
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
import { alertsSinkManifest, applySink, burstThenKill, placeFleet } from '../helpers/sink-fleet.js'
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
    await placeFleet(mesh)
    await applySink(mesh.peers[0], alertsSinkManifest(url, { intervalMs: 1000, maxRecords: 50 }))
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
    const [shipperIndex] = [...replicas.keys()].sort((a, b) => replicas[a].peerId < replicas[b].peerId ? -1 : 1)
    /** every alert a replica acknowledged (2xx) to its client */
    const ackedAlerts = new Set<string>()
    /** those the shipper acknowledged before the kill */
    const shipperAcked: string[] = []
    const writers = replicas.map(async (p, w) => {
      for (let i = 0; !stop; i++) {
        if (!p.exited) {
          const c = await http(p, 'POST', `/v1/services/fleet/counters/v${Math.floor(rnd() * 5)}`, JSON.stringify({ delta: 1 })).catch(() => ({ status: 0 }))
          const a = await http(p, 'POST', '/v1/services/fleet/logs/alerts', JSON.stringify({ entries: [`alert-${w}-${i}`] })).catch(() => ({ status: 0 }))
          if (c.status === 200 && a.status >= 200 && a.status < 300) acked++
          if (a.status >= 200 && a.status < 300) {
            ackedAlerts.add(`alert-${w}-${i}`)
            if (w === shipperIndex) shipperAcked.push(`alert-${w}-${i}`)
          }
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
      // a burst of alerts to the shipper, killed the moment the first is
      // acknowledged: some are acked (on its disk) but not replicated yet
      await burstThenKill(shipper, 10 + Math.floor(rnd() * 20), (value) => {
        ackedAlerts.add(value)
        shipperAcked.push(value)
      })
      // alerts the shipper acknowledged but had not replicated when it died
      // come back with it later, with clocks older than windows already
      // shipped: they must ship too (counted for the report)
      const atKill = await http(survivor, 'GET', '/v1/services/fleet/logs/alerts')
      for (const e of (atKill.json?.entries ?? []) as Array<{ value: string }>) heldAtKill.add(e.value)
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
    const late = shipperAcked.filter(v => !heldAtKill.has(v))
    const held = new Set((log.json.entries as Array<{ value: string }>).map(e => e.value))
    const lost = [...ackedAlerts].filter(v => !held.has(v))
    assert.deepEqual(lost, [], `alerts acknowledged to the client are in the log (seed ${SEED})`)
    // every acknowledged alert at the core: a missing one after two minutes is a failure, not a known bug
    await waitFor('every acknowledged alert at the core', () => { const got = new Set(core.of('log').map(r => r.value as string)); return [...held].every(v => got.has(v)) }, { timeoutMs: 120_000, intervalMs: 200 })
      .catch((err: Error) => {
        const got = new Set(core.of('log').map(r => r.value as string))
        const missing = [...held].filter(v => !got.has(v))
        throw new Error(`${err.message}: ${missing.length} missing (${missing.slice(0, 10).join(', ')}), ${missing.filter(v => late.includes(v)).length} of them late (seed ${SEED})`)
      })
    const got = core.of('log').map(r => r.value as string)
    assert.equal(new Set(got).size, got.length, `each alert once after dedup (seed ${SEED})`)
    assert.deepEqual(got.filter(v => !held.has(v)), [], 'nothing at the core that is not in the log')
    const gotSet = new Set(got)
    assert.deepEqual([...ackedAlerts].filter(v => !gotSet.has(v)), [], `every acknowledged alert at the core (seed ${SEED})`)
    const ws = windows()
    assert.equal(new Set(ws).size, ws.length, 'each window once')
    for (let i = 1; i < ws.length; i++) assert.equal(ws[i], ws[i - 1] + 1, `window ${ws[i - 1] + 1} is missing (${ws.join(',')}) (seed ${SEED})`)
    console.log(`      ${ws.length} windows, ${got.length} alerts at the core (${ackedAlerts.size} acknowledged, ${late.length} acked by the shipper but not replicated before its kill), ${acked} acknowledged write pairs, ${core.duplicates} duplicates dropped by the core`)
  })
})
