/**
 * Staleness of an eventual service across 3 emulated regions under load.
 *
 *   npx tsx bench/crdt/staleness.ts [--seconds 10] [--rate 50] [--rtt eu-us,eu-ap,us-ap]
 *
 * Three in-process peers (real libp2p over the link emulator, RTTs from
 * --rtt, default 80,150,220 ms) hold the leaderboard (maxStalenessMs 200).
 * Each replica adds 1 to its own counter key `rate` times a second. Every
 * 10 ms each replica is sampled for:
 *   - true staleness: for each other writer, the age of the oldest write
 *     it has not yet seen (0 if none), max over writers;
 *   - reported staleness: its own `stalenessMs` (ServiceStatus).
 * Visibility delay of every write at every other replica is also reported.
 * All peers share one event loop with the writers: figures include that.
 * Prints one JSON object.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { defaultConfig } from '../../src/config/index.js'
import type { CrdtBackend } from '../../src/crdt/service/index.js'
import { createMeshNode } from '../../src/node/index.js'
import type { MeshNode } from '../../src/node/index.js'
import { createLogger } from '../../src/telemetry/index.js'
import { waitFor } from '../../test/helpers/wait.js'

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, rate: { type: 'string', default: '50' }, rtt: { type: 'string', default: '80,150,220' } } })
const seconds = Number(values.seconds)
const rate = Number(values.rate)
const [eu2us, eu2ap, us2ap] = values.rtt.split(',').map(Number)
const REGIONS = ['eu-west', 'us-east', 'ap-south']
const matrix = { regions: REGIONS, rttMs: [[1, eu2us, eu2ap], [eu2us, 1, us2ap], [eu2ap, us2ap, 1]] }

function pct (xs: number[], p: number): number | null {
  if (xs.length === 0) return null
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]
}

const dir = await mkdtemp(join(tmpdir(), 'dcis-bench-staleness-'))
const nodes: MeshNode[] = []
const backends: CrdtBackend[] = []
try {
  for (let i = 0; i < 3; i++) {
    const c = defaultConfig()
    const node = createMeshNode({
      config: { ...c, dataDir: join(dir, `p${i}`), region: REGIONS[i], zone: `${REGIONS[i]}-a`, listen: ['/ip4/127.0.0.1/tcp/0'], simulation: { rtt: matrix }, gossip: { endRepublishIntervalMs: 30_000 } },
      bootstrapPeers: nodes.length === 0 ? [] : nodes[0].libp2p.getMultiaddrs(),
      logger: createLogger({ level: 'silent' }),
      api: false
    })
    await node.start()
    nodes.push(node)
  }
  await waitFor('registries', () => nodes.every(n => n.registry.list().length === 3), { timeoutMs: 60_000, intervalMs: 50 })
  // the node's own eventual backend (MeshNode wires one in)
  for (const node of nodes) {
    if (node.crdt == null) throw new Error('MeshNode started without its crdt backend')
    backends.push(node.crdt)
  }
  await backends[0].apply({ name: 'leaderboard', replicas: 3, runtime: 'wasi', mode: 'eventual', crdtEngine: 'delta-crdts', zones: REGIONS.map(r => `${r}-a`), maxStalenessMs: 200, latencyRadiusMs: 20 })
  await waitFor('placement', () => backends.every(b => b.isLocal('leaderboard')), { timeoutMs: 60_000, intervalMs: 50 })
  // let gossipsub meshes form before measuring
  await new Promise(resolve => setTimeout(resolve, 2_000))

  const writeTimes: number[][] = [[], [], []]
  const trueSamples: number[] = []
  const reportedSamples: number[] = []
  const visibility: number[] = []
  const seenCount = [[0, 0, 0], [0, 0, 0], [0, 0, 0]] // [observer][writer]
  let writing = true
  const writers = backends.map(async (b, w) => {
    const interval = 1000 / rate
    let next = Date.now()
    while (writing) {
      writeTimes[w].push(Date.now())
      await b.addCounter('leaderboard', `w${w}`, 1)
      next += interval
      const wait = next - Date.now()
      if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
    }
  })
  const sampler = setInterval(() => {
    void (async () => {
      const now = Date.now()
      for (let o = 0; o < 3; o++) {
        let worst = 0
        for (let w = 0; w < 3; w++) {
          if (w === o) continue
          const seen = (await backends[o].counter('leaderboard', `w${w}`)).value
          for (let n = seenCount[o][w]; n < seen && n < writeTimes[w].length; n++) visibility.push(now - writeTimes[w][n])
          seenCount[o][w] = Math.max(seenCount[o][w], seen)
          const oldestUnseen = writeTimes[w][seen]
          if (oldestUnseen != null) worst = Math.max(worst, now - oldestUnseen)
        }
        trueSamples.push(worst)
        reportedSamples.push((await backends[o].status('leaderboard')).stalenessMs ?? 0)
      }
    })()
  }, 10)
  await new Promise(resolve => setTimeout(resolve, seconds * 1000))
  writing = false
  await Promise.all(writers)
  const stoppedAt = Date.now()
  const totals = writeTimes.map(w => w.length)
  await waitFor('convergence', async () => {
    for (const b of backends) for (let w = 0; w < 3; w++) if ((await b.counter('leaderboard', `w${w}`)).value !== totals[w]) return false
    return true
  }, { timeoutMs: 30_000, intervalMs: 50 })
  const convergedMs = Date.now() - stoppedAt
  clearInterval(sampler)
  const over = trueSamples.filter(s => s > 200).length
  console.log(JSON.stringify({
    bench: 'crdt-staleness',
    regions: REGIONS,
    rttMs: { 'eu-us': eu2us, 'eu-ap': eu2ap, 'us-ap': us2ap },
    maxStalenessMs: 200,
    seconds,
    writesPerSecondPerReplica: rate,
    writes: totals.reduce((a, b) => a + b, 0),
    samples: trueSamples.length,
    trueStalenessMs: { p50: pct(trueSamples, 0.5), p99: pct(trueSamples, 0.99), max: pct(trueSamples, 1), overBoundFraction: trueSamples.length === 0 ? null : over / trueSamples.length },
    reportedStalenessMs: { p50: pct(reportedSamples, 0.5), p99: pct(reportedSamples, 0.99), max: pct(reportedSamples, 1) },
    visibilityDelayMs: { p50: pct(visibility, 0.5), p99: pct(visibility, 0.99), max: pct(visibility, 1), n: visibility.length },
    convergedAfterWritesStopMs: convergedMs,
    goal: 'p99 of true staleness <= 200 ms',
    goalMet: (pct(trueSamples, 0.99) ?? Infinity) <= 200,
    cpus: cpus().length,
    loadavg1: loadavg()[0]
  }))
} finally {
  for (const n of [...nodes].reverse()) await n.stop().catch(() => {})
  await rm(dir, { recursive: true, force: true })
}
