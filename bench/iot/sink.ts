/**
 * Sink delivery exactly once after deduplication (issue 18 "Done when"):
 * three regional peers (examples/iot/mesh.ts), the `core` sink shipping
 * snapshots of the fleet counters and the alerts log every `--interval`
 * ms to the local core receiver, while events flow through the iot-filter
 * function on the eu-west and us-east peers. Then:
 *   1. the core is down for `--outage` seconds (default 120: the issue's
 *      2 minutes): batches wait in the shipper's on-disk buffer, retried
 *      with back-off;
 *   2. the shipping replica (lowest live peer id) is killed (stopped); the
 *      next one takes over.
 * Checks, after the core deduplicated on the records' idempotency keys:
 * every window from the first to the last is present exactly once, and
 * every alert in the alerts log of a surviving replica reached the core
 * exactly once. Prints one JSON object.
 *
 *   npx tsx bench/iot/sink.ts [--interval 5000] [--outage 120]
 */
import { parseArgs } from 'node:util'
import { event, startIotMesh } from '../../examples/iot/mesh.js'
import type { CrdtBackend } from '../../src/crdt/service/index.js'

const { values } = parseArgs({ options: { interval: { type: 'string', default: '5000' }, outage: { type: 'string', default: '120' } } })
const interval = Number(values.interval)
const outageMs = Number(values.outage) * 1000

const iot = await startIotMesh({ sinkIntervalMs: interval })
const t0 = Date.now()
const log = (what: string): void => { process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(1)} s] ${what}\n`) }
try {
  const windows = (): number[] => iot.core.of('snapshot').map(r => r.window as number).sort((a, b) => a - b)
  const until = async (what: string, cond: () => boolean, timeoutMs: number): Promise<void> => {
    const end = Date.now() + timeoutMs
    while (!cond()) {
      if (Date.now() > end) throw new Error(`timed out: ${what}`)
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }
  let stop = false
  let batches = 0
  let failedBatches = 0
  const senders = [0, 1].map(async (p) => {
    for (let i = 0; !stop; i++) {
      const n = iot.nodes[p]
      if (n.status === 'started') {
        const body = Array.from({ length: 200 }, (_, j) => j === 0 ? event(1 + ((i + p) % 9), 'brake_temp', 500 + i) : event((i * 7 + j) % 100, 'speed', 60)).join('\n')
        try {
          const r = await n.functions?.invoker.invoke('iot-filter', new TextEncoder().encode(body))
          if (r != null) batches++
        } catch {
          failedBatches++
        }
      }
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  })
  await until('two windows at the core', () => windows().length >= 2, 10 * interval + 30_000)
  log(`core has windows ${windows().join(',')}; taking the core down for ${outageMs / 1000} s`)
  iot.core.available = false
  const beforeOutage = windows().length
  await new Promise(resolve => setTimeout(resolve, outageMs))
  const duringOutage = windows().length - beforeOutage
  iot.core.available = true
  log('core back')
  await until('the buffered windows delivered', () => windows().length >= beforeOutage + Math.floor(outageMs / interval), 120_000)
  const sorted = [iot.nodes[0], iot.nodes[1], iot.nodes[2]].sort((a, b) => a.libp2p.peerId.toString() < b.libp2p.peerId.toString() ? -1 : 1)
  const shipper = sorted[0]
  log(`killing the shipper ${shipper.config.region}`)
  const beforeKill = windows().length
  await shipper.stop()
  const survivors = iot.nodes.filter(n => n !== shipper)
  await until('windows shipped by a survivor', () => windows().length >= beforeKill + 3 && iot.core.of('snapshot').some(r => survivors.some(s => s.libp2p.peerId.toString() === r.takenBy)), 10 * interval + 60_000)
  stop = true
  await Promise.all(senders)
  // the alerts a surviving replica holds (appended before the writes stopped) must all arrive once
  const expected = (await (survivors[0].crdt as CrdtBackend).readLog('fleet', 'alerts')).entries.map(e => e.cursor)
  await until('every alert at the core', () => { const got = new Set(iot.core.of('log').map(r => r.cursor as string)); return expected.every(c => got.has(c)) }, 10 * interval + 60_000)
  const ws = windows()
  const gaps: number[] = []
  for (let i = 1; i < ws.length; i++) for (let w = ws[i - 1] + 1; w < ws[i]; w++) gaps.push(w)
  const logKeys = iot.core.of('log').map(r => r.key)
  console.log(JSON.stringify({
    bench: 'iot-sink-exactly-once',
    intervalMs: interval,
    outageS: outageMs / 1000,
    windows: { first: ws[0], last: ws[ws.length - 1], delivered: ws.length, distinct: new Set(ws).size, missing: gaps, deliveredDuringOutage: duringOutage },
    alerts: { inLog: expected.length, atCore: iot.core.of('log').length, distinctAtCore: new Set(logKeys).size, missingAtCore: expected.filter(c => !iot.core.of('log').some(r => r.cursor === c)).length },
    duplicatesDroppedByCore: iot.core.duplicates,
    shipperKilled: shipper.config.region,
    shippedBy: [...new Set(iot.core.of('snapshot').map(r => iot.nodes.find(n => n.libp2p.peerId.toString() === r.takenBy)?.config.region))],
    functionBatches: batches,
    failedFunctionBatches: failedBatches,
    exactlyOnce: gaps.length === 0 && new Set(ws).size === ws.length && expected.every(c => iot.core.of('log').some(r => r.cursor === c))
  }, null, 2))
} finally {
  await iot.close()
}
