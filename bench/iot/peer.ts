/**
 * One regional peer of the IoT case study in its own process (forked by
 * bench/iot/peers.ts, driven over IPC with bench/raft/proc.ts's protocol:
 * `{ id, op, args }` -> `{ id, ok, result | message }`). The same
 * configuration as the in-process mesh (examples/iot/mesh.ts iotPeerConfig).
 * Waits (counter, alert) run here, next to the replica, and answer the
 * moment they saw it as epoch milliseconds (performance.timeOrigin + now()),
 * so the parent compares them with its own send time on the same clock.
 */
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks'
import { createMeshNode } from '../../src/node/index.js'
import type { MeshNode } from '../../src/node/index.js'
import type { CrdtBackend } from '../../src/crdt/service/index.js'
import { createLogger } from '../../src/telemetry/index.js'
import { deployIot, iotPeerConfig, iotReady, threeRegionRtt } from '../../examples/iot/mesh.js'
import { fleetDigest, WAIT_MS } from './peers.js'

let node: MeshNode | undefined
// event-loop delay of this peer's process (the p99 tail: what stalls the loop)
const loop = monitorEventLoopDelay({ resolution: 1 })
loop.enable()
// GC pauses of this process (a stall the loop delay cannot tell from the OS not scheduling us)
let gc = { count: 0, totalMs: 0, maxMs: 0, majorMaxMs: 0 }
new PerformanceObserver(list => {
  for (const e of list.getEntries()) {
    gc.count++
    gc.totalMs += e.duration
    gc.maxMs = Math.max(gc.maxMs, e.duration)
    // mark-compact (the old generation), as opposed to scavenges of the young one
    if (((e as unknown as { detail?: { kind?: number } }).detail)?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) gc.majorMaxMs = Math.max(gc.majorMaxMs, e.duration)
  }
}).observe({ entryTypes: ['gc'] })
let fleetEverywhere = false
const epochNow = (): number => performance.timeOrigin + performance.now()
const crdt = (): CrdtBackend => node?.crdt as CrdtBackend

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const ops: Record<string, (...a: any[]) => Promise<unknown>> = {
  async start (i: number, dir: string, emulateRtt: boolean, bootstrap: string[]) {
    const { multiaddr } = await import('@multiformats/multiaddr')
    const rtt = emulateRtt ? await threeRegionRtt() : undefined
    node = createMeshNode({ config: iotPeerConfig(i, dir, rtt), bootstrapPeers: bootstrap.map(a => multiaddr(a)), logger: createLogger({ level: 'silent' }) })
    await node.start()
    return { api: node.api?.url, addrs: node.libp2p.getMultiaddrs().map(String) }
  },
  /** this process's CPU time (user + system, ms; worker threads included) */
  async cpuMs () { const u = process.cpuUsage(); return (u.user + u.system) / 1000 },
  /** event-loop delay since the last call (ms), then reset */
  async loopDelay () {
    const r = { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6, gcPauses: gc.count, gcTotalMs: gc.totalMs, gcMaxMs: gc.maxMs, gcMajorMaxMs: gc.majorMaxMs }
    loop.reset()
    gc = { count: 0, totalMs: 0, maxMs: 0, majorMaxMs: 0 }
    return r
  },
  async peers () { return node?.registry.list().length ?? 0 },
  async ready () { return node == null ? { fleet: false, rest: false } : iotReady(node) },
  async deploy (o: { coreUrl: string, metadataUrl: string, maxStalenessMs?: number, sinkIntervalMs?: number }) {
    if (node == null) throw new Error('not started')
    // the parent polls every peer's readiness and says so with `fleetEverywhere`
    return deployIot(node, o, () => fleetEverywhere)
  },
  async fleetEverywhere () { fleetEverywhere = true; return null },
  async counter (key: string) { return (await crdt().counter('fleet', key)).value },
  /** resolves with the epoch ms at which the counter first exceeded `above` */
  async waitCounter (key: string, above: number) {
    const give = epochNow() + WAIT_MS
    while ((await crdt().counter('fleet', key)).value <= above) {
      if (epochNow() > give) return -1
      await new Promise(resolve => setImmediate(resolve))
    }
    return epochNow()
  },
  /** resolves with the epoch ms at which an alert containing `marker` was first in this replica's alerts log */
  async waitAlert (marker: string) {
    const give = epochNow() + WAIT_MS
    // only entries from shortly before the wait: reading the whole log every 1 ms made
    // garbage (and GC pauses) in the very replica being measured
    const since = Date.now() - 5_000
    for (;;) {
      if (epochNow() > give) return -1
      const { entries } = await crdt().readLog('fleet', 'alerts', { fromMs: since })
      if (entries.some(e => e.value.includes(marker))) return epochNow()
      await new Promise(resolve => setTimeout(resolve, 1))
    }
  },
  /** what this replica holds of the fleet service: the sum of its counters and the lengths of its logs (equal on every replica once replication caught up) */
  async fleetDigest () { return fleetDigest(crdt()) },
  async crdtBytesOut () {
    const m = await node?.metrics.getSingleMetric('dcis_crdt_bytes_total')?.get()
    let total = 0
    for (const v of m?.values ?? []) if (v.labels.direction === 'out') total += v.value
    return total
  },
  async stop () { await node?.stop(); node = undefined; return null }
}

process.on('message', (m: { id: number, op: string, args: unknown[] }) => {
  const fn = ops[m.op]
  if (fn == null) { process.send?.({ id: m.id, ok: false, message: `unknown op ${m.op}` }); return }
  fn(...m.args).then(
    result => process.send?.({ id: m.id, ok: true, result }),
    (err: Error) => process.send?.({ id: m.id, ok: false, message: err.message })
  )
})
process.on('disconnect', () => { void node?.stop().finally(() => process.exit(0)) })
