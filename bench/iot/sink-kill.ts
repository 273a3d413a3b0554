/**
 * Sink exactly once across a HARD kill and a core outage (issue 18 "Done
 * when"), on real processes: three `dcis start` peers (LocalMesh, the
 * built CLI when present), the `fleet` service on two of them, the `core`
 * sink shipping the alerts log every `--interval` ms to a core receiver in
 * this process; clients append alerts to both replicas over HTTP. Then:
 *   1. the core is down for `--outage` seconds (default 120: the issue's
 *      2 minutes): batches wait in the shipper's on-disk spool;
 *   2. a burst of alerts goes to the shipping replica, SIGKILLed the moment
 *      the first is acknowledged (acked-but-unreplicated alerts: they come
 *      back with it, with clocks older than windows already shipped);
 *   3. the core comes back; the survivor ships; the killed peer restarts on
 *      its data dir (its spool re-sends).
 * Checks, after the core deduplicated on the idempotency keys: every window
 * once and consecutive, every alert acknowledged to a client (2xx) once.
 * Also: the size of the shippers' marks in the kv. Prints one JSON object.
 *
 *   npx tsx bench/iot/sink-kill.ts [--interval 1000] [--outage 120] [--seed 1]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { LocalMesh } from '../../src/cli/local-mesh.js'
import type { LocalPeer } from '../../src/cli/local-mesh.js'
import { CoreReceiver } from '../../examples/iot/core-receiver.js'
import { freePortBlock } from '../../test/helpers/ports.js'
import { waitFor } from '../../test/helpers/wait.js'
import { alertsSinkManifest, applySink, burstThenKill, placeFleet } from '../../test/helpers/sink-fleet.js'
import { cliCommand } from '../scale/_mesh.js'
import { tryHttp } from '../../test/helpers/http.js'
import type { Json } from '../../test/helpers/http.js'

const { values } = parseArgs({ options: { interval: { type: 'string', default: '1000' }, outage: { type: 'string', default: '120' }, seed: { type: 'string', default: '1' } } })
const interval = Number(values.interval)
const outageMs = Number(values.outage) * 1000
let seed = Number(values.seed)
const rnd = (): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648 }

const t0 = Date.now()
const log = (what: string): void => { process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(1)} s] ${what}\n`) }
async function http (peer: LocalPeer, method: string, path: string, body?: string, contentType = 'application/json'): Promise<{ status: number, json: Json }> {
  return await tryHttp(peer.apiUrl, method, path, body, contentType)
}

const dir = await mkdtemp(join(tmpdir(), 'dcis-bench-sink-kill-'))
const core = new CoreReceiver()
const url = await core.start()
const mesh = new LocalMesh({ nodes: 3, regions: ['eu-west', 'us-east', 'ap-south'], basePort: await freePortBlock(3), dataDir: dir, logLevel: 'warn', command: cliCommand() })
try {
  await mesh.start()
  await waitFor('a fully connected mesh', async () => LocalMesh.fullyConnected(await mesh.snapshots()), { timeoutMs: 120_000 })
  const replicas = await placeFleet(mesh)
  await applySink(mesh.peers[0], alertsSinkManifest(url, { intervalMs: interval, maxRecords: 100, counters: false }))
  const windows = (): number[] => core.of('snapshot').map(x => x.window as number).sort((a, b) => a - b)
  const [shipper, survivor] = [...replicas].sort((a, b) => a.peerId < b.peerId ? -1 : 1)
  const acked = new Set<string>()
  let stop = false
  const writers = replicas.map(async (p, w) => {
    for (let i = 0; !stop; i++) {
      if (!p.exited) {
        const a = await http(p, 'POST', '/v1/services/fleet/logs/alerts', JSON.stringify({ entries: [`alert-${w}-${i}`] }))
        if (a.status >= 200 && a.status < 300) acked.add(`alert-${w}-${i}`)
      }
      await new Promise(resolve => setTimeout(resolve, 20))
    }
  })
  let late = 0
  let burstAcked = 0
  try {
    await waitFor('three windows at the core', () => windows().length >= 3, { timeoutMs: 60_000 + 10 * interval, intervalMs: 100 })
    log(`core down for ${outageMs / 1000} s`)
    core.available = false
    await new Promise(resolve => setTimeout(resolve, outageMs))
    const beforeKill = windows().length
    const burst = 10 + Math.floor(rnd() * 20)
    await burstThenKill(shipper, burst, (value) => {
      acked.add(value)
      burstAcked++
    })
    const atKill = new Set(((await http(survivor, 'GET', '/v1/services/fleet/logs/alerts')).json?.entries as Array<{ value: string }> ?? []).map(e => e.value))
    late = [...acked].filter(v => !atKill.has(v)).length
    log(`shipper SIGKILLed (${burstAcked} of a burst of ${burst} acked; ${late} acked alerts not on the survivor); core back`)
    core.available = true
    await waitFor('the survivor to ship', () => windows().length >= beforeKill + 4 && core.of('snapshot').some(x => x.takenBy === survivor.peerId), { timeoutMs: 180_000 + 10 * interval, intervalMs: 200 })
    await mesh.spawnPeer(shipper)
    await waitFor('the restarted peer back', async () => (await http(shipper, 'GET', '/v1/services/fleet')).json?.local === true, { timeoutMs: 120_000, intervalMs: 500 })
    const after = windows().length
    await waitFor('two more windows', () => windows().length >= after + 2, { timeoutMs: 60_000 + 10 * interval, intervalMs: 200 })
  } finally {
    stop = true
    await Promise.all(writers)
  }
  const tDone = Date.now()
  await waitFor('every acknowledged alert at the core', () => { const got = new Set(core.of('log').map(x => x.value as string)); return [...acked].every(v => got.has(v)) }, { timeoutMs: 120_000 + 10 * interval, intervalMs: 200 })
    .catch(() => undefined)
  const got = core.of('log').map(x => x.value as string)
  const gotSet = new Set(got)
  const ws = windows()
  const gaps: number[] = []
  for (let i = 1; i < ws.length; i++) for (let w = ws[i - 1] + 1; w < ws[i]; w++) gaps.push(w)
  const markBytes: Record<string, number> = {}
  for (const p of replicas) {
    const m = await http(survivor, 'GET', `/v1/services/fleet/kv/${encodeURIComponent(`_sink/core/marks/${p.peerId}`)}`)
    if (m.status === 200) markBytes[p === shipper ? 'killedShipper' : 'survivor'] = Buffer.byteLength(String(m.json?.value ?? ''))
  }
  const missing = [...acked].filter(v => !gotSet.has(v))
  console.log(JSON.stringify({
    bench: 'iot-sink-hard-kill',
    intervalMs: interval,
    outageS: outageMs / 1000,
    seed: Number(values.seed),
    windows: { first: ws[0], last: ws[ws.length - 1], delivered: ws.length, distinct: new Set(ws).size, missing: gaps },
    alerts: { acknowledged: acked.size, atCore: got.length, distinctAtCore: gotSet.size, missingAtCore: missing.length, ackedNotReplicatedAtKill: late, burstAcked },
    lastAlertsArrivedMs: Date.now() - tDone,
    duplicatesDroppedByCore: core.duplicates,
    markBytes,
    exactlyOnce: gaps.length === 0 && new Set(ws).size === ws.length && missing.length === 0 && gotSet.size === got.length
  }, null, 2))
} finally {
  await mesh.stop()
  await core.stop()
  await rm(dir, { recursive: true, force: true })
}
