/**
 * Convergence of a newly joined peer's latency map. Prints one JSON object.
 *
 * An emulated 3-region mesh (eu, us, ap; 20 ms within a region, 40/60/100 ms
 * between) of `--nodes` in-process libp2p peers (default 6, regions in turn)
 * runs its latency services for `--warmup-s` seconds; then a new peer joins
 * (region us) and dials every other peer. From its first connection we
 * record how long (seconds, and its own probe rounds) until:
 *
 * - map: every one of its best estimates (what GET /v1/latency reports) is
 *   within 20% of the emulated RTT;
 * - model: every model-only estimate (coordinates / factors / the peer's
 *   reverse sample, ignoring its own pings) is within 20%;
 * - coordinate: the median relative error of plain Vivaldi coordinate
 *   distances from the new peer to the others is within 20%;
 * - othersSeeNew: every other peer's best estimate of the new peer is within 20%.
 *
 * null = not reached within `--timeout-s`. Every peer lives in this one
 * process, so event-loop delay adds straight to every ping: the output gives
 * the loop delay (p50/p99) and the host's load average so a slow result on a
 * busy box can be read for what it is. Intervals are scaled down from the
 * defaults (probe 5 s, gossip 10 s) by `--scale` (default 0.1), so rounds are
 * the figure that carries over to a real deployment.
 *
 *   npx tsx bench/latency/convergence.ts [--nodes 6] [--scale 0.1] [--warmup-s 10] [--timeout-s 60] [--seed 7]
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { loadavg } from 'node:os'
import { distanceMs } from '../../src/latency/index.js'
import { THREE_REGIONS, addMember, connectAll, relativeErrors, stopMembers, trueRtt } from '../../test/latency/service-mesh.js'
import type { MeshMember } from '../../test/latency/service-mesh.js'

function arg (name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`)
  if (i < 0) return dflt
  const v = Number(process.argv[i + 1])
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`)
  return v
}

const nodes = Math.round(arg('nodes', 6))
const scale = arg('scale', 0.1)
const warmupS = arg('warmup-s', 10)
const timeoutS = arg('timeout-s', 60)
const seed = Math.round(arg('seed', 7))
const probeIntervalMs = 5_000 * scale
const gossipIntervalMs = 10_000 * scale
const init = { probeIntervalMs, gossipIntervalMs, rateLimit: { burst: 3, refillMs: gossipIntervalMs * 0.8 } }

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)]
}

const loop = monitorEventLoopDelay({ resolution: 10 })
loop.enable()
const members: MeshMember[] = []
let joiner: MeshMember | undefined
try {
  for (let i = 0; i < nodes; i++) members.push(await addMember(THREE_REGIONS.regions[i % 3], THREE_REGIONS, init, seed + i))
  await connectAll(members)
  await new Promise(resolve => setTimeout(resolve, warmupS * 1000))
  const meshMedianBefore = median(relativeErrors(members, THREE_REGIONS).filter((e): e is number => e !== null))

  joiner = await addMember('us', THREE_REGIONS, init, seed + 1000)
  const j = joiner
  const start = performance.now()
  for (const m of members) await j.libp2p.dial(m.libp2p.getMultiaddrs()[0], { signal: AbortSignal.timeout(10_000) })

  const errorsFrom = (modelOnly: boolean): Array<number | null> => members.map(m => {
    const e = j.service.estimator.estimate(m.libp2p.peerId.toString(), { modelOnly })
    const t = trueRtt(THREE_REGIONS, j.region, m.region)
    return e === undefined ? null : Math.abs(e.ms - t) / t
  })
  const coordErrors = (): number[] => {
    const mine = j.service.estimator.publicState().coord
    return members.map(m => {
      const t = trueRtt(THREE_REGIONS, j.region, m.region)
      return Math.abs(distanceMs(mine, m.service.estimator.publicState().coord) - t) / t
    })
  }
  const othersErrors = (): Array<number | null> => members.map(m => {
    const e = m.service.estimator.estimate(j.libp2p.peerId.toString())
    const t = trueRtt(THREE_REGIONS, j.region, m.region)
    return e === undefined ? null : Math.abs(e.ms - t) / t
  })
  const allWithin = (errs: Array<number | null>): boolean => errs.every(e => e !== null && e <= 0.2)

  type Reached = { seconds: number, rounds: number } | null
  const reached: Record<'map' | 'model' | 'coordinate' | 'othersSeeNew', Reached> = { map: null, model: null, coordinate: null, othersSeeNew: null }
  const checks: Record<keyof typeof reached, () => boolean> = {
    map: () => allWithin(errorsFrom(false)),
    model: () => allWithin(errorsFrom(true)),
    coordinate: () => median(coordErrors()) <= 0.2,
    othersSeeNew: () => allWithin(othersErrors())
  }
  while (performance.now() - start < timeoutS * 1000 && Object.values(reached).some(r => r === null)) {
    for (const k of Object.keys(checks) as Array<keyof typeof reached>) {
      if (reached[k] === null && checks[k]()) {
        reached[k] = { seconds: Math.round(performance.now() - start) / 1000, rounds: j.service.stats().probeRounds }
      }
    }
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  const round2 = (x: number | null): number | null => x === null ? null : Math.round(x * 100) / 100
  console.log(JSON.stringify({
    bench: 'latency/convergence',
    nodes: nodes + 1,
    regions: THREE_REGIONS.regions,
    rttMs: THREE_REGIONS.rttMs,
    seed,
    probeIntervalMs,
    gossipIntervalMs,
    warmupS,
    timeoutS,
    meshMedianRelErrorBeforeJoin: round2(meshMedianBefore),
    eventLoopDelayMs: { p50: round2(loop.percentile(50) / 1e6), p99: round2(loop.percentile(99) / 1e6) },
    loadAverage1m: round2(loadavg()[0]),
    newPeer: reached,
    final: {
      mapRelErrors: errorsFrom(false).map(round2),
      modelRelErrors: errorsFrom(true).map(round2),
      coordinateRelErrors: coordErrors().map(round2),
      othersRelErrors: othersErrors().map(round2),
      probes: j.service.stats().probesOk,
      probeRounds: j.service.stats().probeRounds,
      gossipAccepted: j.service.stats().accepted
    }
  }))
} finally {
  loop.disable()
  if (joiner !== undefined) members.push(joiner)
  await stopMembers(members)
}
