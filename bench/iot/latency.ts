/**
 * IoT case study latencies (issue 18 "Done when"), three regional peers in
 * one process (examples/iot/mesh.ts) or, with --procs, each in its own
 * process (bench/iot/peers.ts), real libp2p over the link emulator with the
 * RTTs of simulations/rtt/three-regions.json (eu-west<->us-east 80 ms,
 * eu-west<->ap-south 140 ms, us-east<->ap-south 200 ms).
 *
 *   npx tsx bench/iot/latency.ts [--events 300] [--no-rtt] [--procs] [--cpu-prof DIR]
 *
 * - filter: a device POSTs one event to the eu-west peer's API
 *   (POST /v1/functions/iot-filter); latency = until the vehicle's counter
 *   shows it on the eu-west replica (the function's counter_add is applied
 *   to the local replica before the invocation answers).
 * - alert: an event above the vehicle's brake threshold; latency = from the
 *   POST until the alert entry is visible in the alerts log of the us-east
 *   and of the ap-south replica (each polled every 1 ms, in the replica's
 *   own process with --procs).
 * Prints one JSON object.
 */
import { parseArgs } from 'node:util'
import { cpus, loadavg } from 'node:os'
import { event } from '../../examples/iot/mesh.js'
import { epochNow, startPeers } from './peers.js'

const { values } = parseArgs({ options: { events: { type: 'string', default: '300' }, 'no-rtt': { type: 'boolean', default: false }, procs: { type: 'boolean', default: false }, 'cpu-prof': { type: 'string' } } })
const N = Number(values.events)

function pct (xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))] * 100) / 100
}
function summary (xs: number[]): Record<string, number> {
  return { n: xs.length, p50: pct(xs, 0.5), p90: pct(xs, 0.9), p99: pct(xs, 0.99), max: pct(xs, 1) }
}

const prof = values['cpu-prof']
const iot = await startPeers({ procs: values.procs, emulateRtt: !values['no-rtt'], maxStalenessMs: 200, ...(prof != null ? { execArgv: ['--cpu-prof', `--cpu-prof-dir=${prof}`] } : {}) })
try {
  const [eu, us, ap] = iot.peers
  const loadBefore = loadavg().map(x => Math.round(x * 100) / 100)
  const url = `${eu.api}/v1/functions/iot-filter`
  const post = async (body: string): Promise<void> => {
    const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } })
    if (res.status !== 200) throw new Error(`invoke: HTTP ${res.status} ${await res.text()}`)
    await res.arrayBuffer()
  }
  // warm up: metadata in the cache, instances warm
  for (let v = 0; v < 20; v++) await post(event(v, 'speed', 50))
  const r2 = (x: number): number => Math.round(x * 100) / 100
  const loopOf = async (): Promise<Record<string, Record<string, number>>> => {
    const out: Record<string, Record<string, number>> = {}
    const names = ['euWest', 'usEast', 'apSouth']
    for (let i = 0; i < iot.peers.length; i++) {
      const d = await iot.peers[i].loopDelay()
      out[names[i]] = Object.fromEntries(Object.entries(d).map(([k, v]) => [k, r2(v as number)]))
    }
    return out
  }
  await loopOf()
  const filter: number[] = []
  let failed = 0
  let lost = 0
  for (let i = 0; i < N; i++) {
    const v = i % 20
    const before = await eu.counter(`v-${v}`)
    const seen = eu.waitCounter(`v-${v}`, before)
    const t0 = epochNow()
    try {
      await post(event(v, 'speed', 60))
    } catch (err) {
      // counted, not fatal: a loaded machine can run the function past its time limit
      failed++
      console.error((err as Error).message)
      await seen
      continue
    }
    const at = await seen
    if (at < 0) lost++
    else filter.push(at - t0)
  }
  const loopFilter = await loopOf()
  const alertUs: number[] = []
  const alertAp: number[] = []
  // until eu-west answered the POST: the function ran and the alert is on eu-west's disk (it leaves then)
  const alertAck: number[] = []
  for (let i = 0; i < N; i++) {
    const v = 1 + (i % 9) // vans: threshold 350
    const marker = 600 + i + 0.5
    const waits = [us.waitAlert(`"value":${marker}`), ap.waitAlert(`"value":${marker}`)]
    const t0 = epochNow()
    await post(event(v, 'brake_temp', marker)).then(() => { alertAck.push(epochNow() - t0) }, (err: Error) => { failed++; console.error(err.message) })
    const [atUs, atAp] = await Promise.all(waits)
    if (atUs < 0 || atAp < 0) lost++
    if (atUs >= 0) alertUs.push(atUs - t0)
    if (atAp >= 0) alertAp.push(atAp - t0)
  }
  const loopAlert = await loopOf()
  console.log(JSON.stringify({
    bench: 'iot-latency',
    peers: iot.mode,
    failedInvocations: failed,
    notSeenWithin30s: lost,
    rtt: values['no-rtt'] ? 'none (loopback)' : 'simulations/rtt/three-regions.json',
    filterMs: summary(filter),
    alertAckedByEuWestMs: summary(alertAck),
    alertToUsEastMs: summary(alertUs),
    alertToApSouthMs: summary(alertAp),
    // event-loop delay of the peers' processes (ms) during each phase: stalls show here
    eventLoopDelayMs: { filter: loopFilter, alert: loopAlert },
    oneWayFloorMs: values['no-rtt'] ? null : { usEast: 40, apSouth: 70 },
    cpus: cpus().length,
    loadavgBefore: loadBefore,
    loadavg: loadavg().map(x => Math.round(x * 100) / 100)
  }, null, 2))
} finally {
  await iot.close()
}
