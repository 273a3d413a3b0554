/**
 * IoT case study latencies (issue 18 "Done when"), three regional peers in
 * one process (examples/iot/mesh.ts), real libp2p over the link emulator
 * with the RTTs of simulations/rtt/three-regions.json (eu-west<->us-east
 * 80 ms, eu-west<->ap-south 140 ms, us-east<->ap-south 200 ms).
 *
 *   npx tsx bench/iot/latency.ts [--events 300] [--no-rtt]
 *
 * - filter: a device POSTs one event to the eu-west peer's API
 *   (POST /v1/functions/iot-filter); latency = until the vehicle's counter
 *   shows it on the eu-west replica (the function's counter_add is applied
 *   to the local replica before the invocation answers).
 * - alert: an event above the vehicle's brake threshold; latency = from the
 *   POST until the alert entry is visible in the alerts log of the us-east
 *   and of the ap-south replica (each polled every 1 ms).
 * Prints one JSON object; all three peers share one event loop.
 */
import { parseArgs } from 'node:util'
import { cpus, loadavg } from 'node:os'
import { event, startIotMesh } from '../../examples/iot/mesh.js'
import type { CrdtBackend } from '../../src/crdt/service/index.js'

const { values } = parseArgs({ options: { events: { type: 'string', default: '300' }, 'no-rtt': { type: 'boolean', default: false } } })
const N = Number(values.events)

function pct (xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))] * 100) / 100
}
function summary (xs: number[]): Record<string, number> {
  return { n: xs.length, p50: pct(xs, 0.5), p90: pct(xs, 0.9), p99: pct(xs, 0.99), max: pct(xs, 1) }
}

const iot = await startIotMesh({ emulateRtt: !values['no-rtt'], maxStalenessMs: 200 })
try {
  const [eu, us, ap] = iot.nodes
  const url = `${eu.api?.url as string}/v1/functions/iot-filter`
  const post = async (body: string): Promise<void> => {
    const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } })
    if (res.status !== 200) throw new Error(`invoke: HTTP ${res.status} ${await res.text()}`)
    await res.arrayBuffer()
  }
  const crdt = (n: typeof eu): CrdtBackend => n.crdt as CrdtBackend
  // warm up: metadata in the cache, instances warm
  for (let v = 0; v < 20; v++) await post(event(v, 'speed', 50))
  const filter: number[] = []
  for (let i = 0; i < N; i++) {
    const v = i % 20
    const before = (await crdt(eu).counter('fleet', `v-${v}`)).value
    const t0 = performance.now()
    await post(event(v, 'speed', 60))
    while ((await crdt(eu).counter('fleet', `v-${v}`)).value <= before) await new Promise(resolve => setImmediate(resolve))
    filter.push(performance.now() - t0)
  }
  const alertUs: number[] = []
  const alertAp: number[] = []
  for (let i = 0; i < N; i++) {
    const v = 1 + (i % 9) // vans: threshold 350
    const marker = 600 + i + 0.5
    const seen = async (n: typeof eu): Promise<boolean> => (await crdt(n).readLog('fleet', 'alerts', { fromMs: Date.now() - 60_000 })).entries.some(e => e.value.includes(`"value":${marker}`))
    const t0 = performance.now()
    const sent = post(event(v, 'brake_temp', marker))
    const wait = async (n: typeof eu, into: number[]): Promise<void> => {
      for (;;) {
        if (await seen(n)) { into.push(performance.now() - t0); return }
        await new Promise(resolve => setTimeout(resolve, 1))
      }
    }
    await Promise.all([sent, wait(us, alertUs), wait(ap, alertAp)])
  }
  console.log(JSON.stringify({
    bench: 'iot-latency',
    rtt: values['no-rtt'] ? 'none (loopback)' : 'simulations/rtt/three-regions.json',
    filterMs: summary(filter),
    alertToUsEastMs: summary(alertUs),
    alertToApSouthMs: summary(alertAp),
    oneWayFloorMs: values['no-rtt'] ? null : { usEast: 40, apSouth: 70 },
    cpus: cpus().length,
    loadavg: loadavg().map(x => Math.round(x * 100) / 100)
  }, null, 2))
} finally {
  await iot.close()
}
