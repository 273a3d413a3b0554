/**
 * The three regional peers of the IoT benchmarks, either in this process
 * (examples/iot/mesh.ts: what the first measurements used, three peers and
 * the load generator sharing one event loop) or each in its own process
 * (`--procs`: bench/iot/peer.ts forked with tsx, as a user runs them), behind
 * one interface. Times are epoch milliseconds (performance.timeOrigin +
 * performance.now(): comparable across processes on this machine).
 */
import { fork } from 'node:child_process'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CoreReceiver } from '../../examples/iot/core-receiver.js'
import { REGIONS, startIotMesh, startMetadataBackend, waitUntil } from '../../examples/iot/mesh.js'
import type { CrdtBackend } from '../../src/crdt/service/index.js'
import { Proc } from '../raft/proc.js'

export interface IotPeer {
  api: string
  counter: (key: string) => Promise<number>
  /** epoch ms when the counter first exceeds `above`; -1 after WAIT_MS */
  waitCounter: (key: string, above: number) => Promise<number>
  /** epoch ms when an alert containing `marker` is in this replica's alerts log; -1 after WAIT_MS */
  waitAlert: (marker: string) => Promise<number>
  crdtBytesOut: () => Promise<number>
  /** the sum of this replica's fleet counters and the lengths of its logs raw and alerts (equal on every replica once replication caught up) */
  fleetDigest: () => Promise<string>
  /** CPU time of the peer's process so far (ms, user + system, its worker threads included; in one process: all three peers and the load generator) */
  cpuMs: () => Promise<number>
  /** the event-loop delay of the peer's process since the last call (ms; in one process: shared), then reset */
  loopDelay: () => Promise<LoopDelay>
  /** the process's pid */
  pid: number
}

/** event-loop delay (ms) and, with --procs, the GC pauses in the same period */
export interface LoopDelay { p50: number, p99: number, max: number, gcPauses?: number, gcTotalMs?: number, gcMaxMs?: number, gcMajorMaxMs?: number }

export interface IotPeers {
  mode: 'one process' | 'one process per peer'
  peers: IotPeer[]
  close: () => Promise<void>
}

/** a wait gives up after this long and answers -1 (the event was lost) */
export const WAIT_MS = 30_000

export const epochNow = (): number => performance.timeOrigin + performance.now()

export interface PeersOptions { procs: boolean, emulateRtt?: boolean, maxStalenessMs?: number, vehicles?: number, execArgv?: string[] }

export async function fleetDigest (crdt: CrdtBackend): Promise<string> {
  const counters = Object.values(crdt.localCounters('fleet') ?? {}).reduce((a, b) => a + b, 0)
  const raw = (await crdt.readLog('fleet', 'raw', { limit: 1 })).length
  const alerts = (await crdt.readLog('fleet', 'alerts', { limit: 1 })).length
  return `${counters}/${raw}/${alerts}`
}

export async function startPeers (o: PeersOptions): Promise<IotPeers> {
  return o.procs ? await startProcs(o) : await startInProcess(o)
}

async function startInProcess (o: PeersOptions): Promise<IotPeers> {
  const loop = monitorEventLoopDelay({ resolution: 1 })
  loop.enable()
  const iot = await startIotMesh({ emulateRtt: o.emulateRtt, maxStalenessMs: o.maxStalenessMs, vehicles: o.vehicles })
  const peers = iot.nodes.map((n, i): IotPeer => {
    const crdt = n.crdt as CrdtBackend
    return {
      api: n.api?.url as string,
      pid: process.pid,
      cpuMs: async () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000 },
      loopDelay: async () => {
        const r = { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 }
        // one loop for all three: reset once the last peer has read it
        if (i === iot.nodes.length - 1) loop.reset()
        return r
      },
      counter: async key => (await crdt.counter('fleet', key)).value,
      waitCounter: async (key, above) => {
        const give = epochNow() + WAIT_MS
        while ((await crdt.counter('fleet', key)).value <= above) {
          if (epochNow() > give) return -1
          await new Promise(resolve => setImmediate(resolve))
        }
        return epochNow()
      },
      waitAlert: async marker => {
        const give = epochNow() + WAIT_MS
        // only entries from shortly before the wait: reading the whole log every 1 ms made
        // garbage (and GC pauses) in the very replica being measured
        const since = Date.now() - 5_000
        for (;;) {
          if (epochNow() > give) return -1
          const { entries } = await crdt.readLog('fleet', 'alerts', { fromMs: since })
          if (entries.some(e => e.value.includes(marker))) return epochNow()
          await new Promise(resolve => setTimeout(resolve, 1))
        }
      },
      fleetDigest: async () => fleetDigest(crdt),
      crdtBytesOut: async () => {
        const m = await n.metrics.getSingleMetric('dcis_crdt_bytes_total')?.get()
        let total = 0
        for (const v of m?.values ?? []) if (v.labels.direction === 'out') total += v.value
        return total
      }
    }
  })
  return { mode: 'one process', peers, close: async () => { loop.disable(); await iot.close() } }
}

async function startProcs (o: PeersOptions): Promise<IotPeers> {
  const dir = await mkdtemp(join(tmpdir(), 'dcis-iot-procs-'))
  const meta = await startMetadataBackend(o.vehicles ?? 100)
  const core = new CoreReceiver(join(dir, 'core'))
  const coreUrl = await core.start()
  const procs: Proc[] = []
  const close = async (): Promise<void> => {
    await Promise.all(procs.map(async p => {
      await p.call('stop').catch(() => {})
      p.child.disconnect()
      if (p.child.exitCode == null) await new Promise(resolve => p.child.once('exit', resolve))
    }))
    await core.stop()
    await meta.close()
    await rm(dir, { recursive: true, force: true })
  }
  try {
    const started: Array<{ api: string, addrs: string[] }> = []
    for (let i = 0; i < REGIONS.length; i++) {
      const child = fork(new URL('./peer.ts', import.meta.url).pathname, [], { execArgv: ['--import', 'tsx', ...(o.execArgv ?? [])], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      const p = new Proc(child)
      procs.push(p)
      started.push(await p.call<{ api: string, addrs: string[] }>('start', i, dir, o.emulateRtt === true, i === 0 ? [] : started[0].addrs))
    }
    await waitUntil('every registry to list every peer', async () => (await Promise.all(procs.map(async p => p.call<number>('peers')))).every(n => n === procs.length))
    const ready = async (): Promise<Array<{ fleet: boolean, rest: boolean }>> => Promise.all(procs.map(async p => p.call<{ fleet: boolean, rest: boolean }>('ready')))
    const deployed = procs[0].call<string>('deploy', { coreUrl, metadataUrl: meta.url, maxStalenessMs: o.maxStalenessMs })
    deployed.catch(() => {}) // awaited below
    await waitUntil('fleet on every peer', async () => (await ready()).every(r => r.fleet))
    await procs[0].call('fleetEverywhere')
    await deployed
    await waitUntil('the function, sink and cache on every peer', async () => (await ready()).every(r => r.rest))
    const peers = procs.map((p, i): IotPeer => ({
      api: started[i].api,
      pid: p.child.pid ?? 0,
      cpuMs: async () => p.call<number>('cpuMs'),
      loopDelay: async () => p.call<LoopDelay>('loopDelay'),
      counter: async key => p.call<number>('counter', key),
      waitCounter: async (key, above) => p.call<number>('waitCounter', key, above),
      waitAlert: async marker => p.call<number>('waitAlert', marker),
      crdtBytesOut: async () => p.call<number>('crdtBytesOut'),
      fleetDigest: async () => p.call<string>('fleetDigest')
    }))
    return { mode: 'one process per peer', peers, close }
  } catch (err) {
    await close()
    throw err
  }
}
