/**
 * IoT case study throughput and bandwidth (issue 18 "Done when"), three
 * regional peers in one process (examples/iot/mesh.ts) or, with --procs,
 * each in its own process (bench/iot/peers.ts), real libp2p on loopback (no
 * emulated RTT: this measures CPU, not distance).
 *
 *   npx tsx bench/iot/throughput.ts [--mode filter|log] [--seconds 10] [--batch 2000] [--concurrency 4] [--vehicles 1000] [--procs] [--cpu-prof DIR]
 *
 * --cpu-prof DIR (with --procs) writes each peer's V8 CPU profile to DIR
 * (summarise with bench/scale/prof-top.ts).
 *
 * --mode log skips the function: the batches are appended as they are to
 * the log `raw` of the fleet service (POST /v1/services/fleet/logs/raw,
 * {"entries": [...]}), the append-only log's own ingest rate.
 * - events/s per peer through HTTP with batching: clients POST NDJSON
 *   batches of `batch` events to the eu-west peer's
 *   POST /v1/functions/iot-filter (`concurrency` in flight); every event is
 *   parsed and filtered by the Wasm function, per-vehicle counts go to the
 *   fleet counters through the host interface (one counter_add per vehicle
 *   per batch), alerts (~1 %) to the alerts log and the core.
 * - bytes between regions: what the peers sent each other for the fleet
 *   service (dcis_crdt_bytes_total, gossip + anti-entropy, all directions
 *   out) against shipping the raw events from eu-west to the two other
 *   regions (event bytes x 2).
 * Prints one JSON object. In one process the three peers share one event
 * loop with the load generator; with --procs each peer has its own (the
 * machine's cores are still shared), which is what a user runs.
 */
import { parseArgs } from 'node:util'
import { cpus, loadavg } from 'node:os'
import { event } from '../../examples/iot/mesh.js'
import { startPeers } from './peers.js'
import type { IotPeers } from './peers.js'

const { values } = parseArgs({ options: { mode: { type: 'string', default: 'filter' }, seconds: { type: 'string', default: '10' }, batch: { type: 'string', default: '2000' }, concurrency: { type: 'string', default: '4' }, vehicles: { type: 'string', default: '1000' }, procs: { type: 'boolean', default: false }, 'cpu-prof': { type: 'string' } } })
const seconds = Number(values.seconds)
const batchSize = Number(values.batch)
const concurrency = Number(values.concurrency)
const vehicles = Number(values.vehicles)

async function crdtBytesOut (iot: IotPeers): Promise<number> {
  let total = 0
  for (const p of iot.peers) total += await p.crdtBytesOut()
  return total
}

const prof = values['cpu-prof']
const iot = await startPeers({ procs: values.procs, vehicles, ...(prof != null ? { execArgv: ['--cpu-prof', `--cpu-prof-dir=${prof}`] } : {}) })
try {
  const eu = iot.peers[0]
  const mode = values.mode
  const loadBefore = loadavg().map(x => Math.round(x * 100) / 100)
  const url = mode === 'log' ? `${eu.api}/v1/services/fleet/logs/raw` : `${eu.api}/v1/functions/iot-filter`
  const wrap = (body: string): string => mode === 'log' ? JSON.stringify({ entries: body.split('\n') }) : body
  const headers = { 'content-type': mode === 'log' ? 'application/json' : 'application/octet-stream' }
  let seed = 1
  const rnd = (): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648 }
  const makeBatch = (): string => {
    const lines: string[] = []
    for (let i = 0; i < batchSize; i++) {
      const v = Math.floor(rnd() * vehicles)
      const r = rnd()
      // ~1 % alerts, ~2 % noise, the rest normal readings
      lines.push(r < 0.01 ? event(v, 'brake_temp', 500 + Math.round(rnd() * 100)) : r < 0.03 ? event(v, 'brake_temp', 5000) : r < 0.5 ? event(v, 'brake_temp', 100 + Math.round(rnd() * 150)) : event(v, 'speed', Math.round(rnd() * 130)))
    }
    return lines.join('\n')
  }
  // warm up the cache and instances
  for (let i = 0; i < 3; i++) await fetch(url, { method: 'POST', body: wrap(makeBatch()), headers }).then(async r => r.arrayBuffer())
  await new Promise(resolve => setTimeout(resolve, 1000))
  const bytesBefore = await crdtBytesOut(iot)
  const cpuBefore = await eu.cpuMs()
  // the whole mesh's CPU (in one process: counted once, the load generator included)
  const meshCpu = async (): Promise<number> => iot.mode === 'one process' ? await eu.cpuMs() : (await Promise.all(iot.peers.map(async p => p.cpuMs()))).reduce((a, b) => a + b, 0)
  const meshCpuBefore = await meshCpu()
  let events = 0
  let accepted = 0
  let rawBytes = 0
  let errors = 0
  const httpErrors: Record<string, number> = {}
  const latencies: number[] = []
  const end = Date.now() + seconds * 1000
  const t0 = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (Date.now() < end) {
      const body = makeBatch()
      const t = performance.now()
      const res = await fetch(url, { method: 'POST', body: wrap(body), headers })
      const out = await res.text()
      latencies.push(performance.now() - t)
      if (res.status !== 200) {
        const code = `${res.status} ${(JSON.parse(out) as { error?: { code?: string } }).error?.code ?? ''}`
        httpErrors[code] = (httpErrors[code] ?? 0) + 1
        continue
      }
      const r = JSON.parse(out) as { accepted?: number, errors?: number, appended?: number }
      events += batchSize
      accepted += r.accepted ?? r.appended ?? 0
      errors += r.errors ?? 0
      rawBytes += Buffer.byteLength(body)
    }
  }))
  const elapsed = (performance.now() - t0) / 1000
  const cpuSeconds = (await eu.cpuMs() - cpuBefore) / 1000
  const meshCpuSeconds = (await meshCpu() - meshCpuBefore) / 1000
  // until the other regions' replicas hold everything eu-west accepted (the rate the mesh
  // sustains, not only the rate one peer acknowledges), then the last deltas' bytes
  const caughtUp = async (): Promise<boolean> => { const d = await Promise.all(iot.peers.map(async p => p.fleetDigest())); return d.every(x => x === d[0]) }
  const giveUp = performance.now() + 120_000
  while (!(await caughtUp()) && performance.now() < giveUp) await new Promise(resolve => setTimeout(resolve, 50))
  const replicatedAfterSeconds = (performance.now() - t0) / 1000
  const replicated = await caughtUp()
  await new Promise(resolve => setTimeout(resolve, 1000))
  const deltaBytes = (await crdtBytesOut(iot)) - bytesBefore
  const rawToOtherRegions = rawBytes * 2
  latencies.sort((a, b) => a - b)
  console.log(JSON.stringify({
    bench: 'iot-throughput',
    mode,
    peers: iot.mode,
    seconds: Math.round(elapsed * 10) / 10,
    batch: batchSize,
    concurrency,
    vehicles,
    eventsPerSecondPerPeer: Math.round(events / elapsed),
    // the same events over the time until the us-east and ap-south replicas held all of them
    replicated,
    replicatedAfterSeconds: Math.round(replicatedAfterSeconds * 10) / 10,
    eventsPerSecondReplicated: Math.round(events / replicatedAfterSeconds),
    // what the eu-west peer's process spent (with one process: everything, the load generator too);
    // on a loaded shared machine events per CPU-second is the steadier figure
    euWestCpuSeconds: Math.round(cpuSeconds * 10) / 10,
    eventsPerCpuSecond: Math.round(events / cpuSeconds),
    // all three peers (each applies and persists what it receives)
    meshCpuSeconds: Math.round(meshCpuSeconds * 10) / 10,
    eventsPerMeshCpuSecond: Math.round(events / meshCpuSeconds),
    accepted,
    hostCallErrors: errors,
    httpErrors,
    batchLatencyMs: { p50: Math.round(latencies[Math.floor(latencies.length / 2)]), p99: Math.round(latencies[Math.floor(latencies.length * 0.99)]) },
    bytesBetweenRegions: {
      crdtDeltas: Math.round(deltaBytes),
      rawEvents: rawToOtherRegions,
      reductionPercent: Math.round(1000 * (1 - deltaBytes / rawToOtherRegions)) / 10
    },
    cpus: cpus().length,
    loadavgBefore: loadBefore,
    loadavg: loadavg().map(x => Math.round(x * 100) / 100)
  }, null, 2))
} finally {
  await iot.close()
}
