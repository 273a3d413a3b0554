/**
 * Latency estimator benchmark: accuracy of the peers' own estimator in the
 * offline evaluation (Seattle and synthetic wide-area matrices), a plain
 * Vivaldi run for contrast, and how many gossip rounds a newly joined peer
 * needs to reach the mesh's steady accuracy. Prints one JSON object.
 *
 *   npx tsx bench/latency/estimator.ts [--seeds 1,2,3] [--matrix FILE]
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { createSimulation, evaluateEstimator, generateWideAreaMatrix, loadLatencyMatrix } from '../../src/latency/index.js'
import type { EvalOptions, EvalResult, LatencyMatrix } from '../../src/latency/index.js'

const args = process.argv.slice(2)
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}
const seeds = (flag('--seeds') ?? '1,2,3').split(',').map(Number)
const matrixFile = flag('--matrix') ?? fileURLToPath(new URL('../../../shared/data/latency/seattle.json', import.meta.url))

function summary (r: EvalResult, ms: number): Record<string, unknown> {
  return {
    nodes: r.nodes,
    pairs: r.pairs,
    rounds: r.rounds,
    seed: r.seed,
    medianRelError: round(r.medianRelError),
    p90RelError: round(r.p90RelError),
    unprobedMedianRelError: round(r.unprobed.medianRelError),
    unprobedP90RelError: round(r.unprobed.p90RelError),
    medianSignedRelError: round(r.medianSignedRelError),
    answeredBy: r.answeredBy,
    ms
  }
}

const round = (x: number): number => Math.round(x * 1000) / 1000

function timed (m: LatencyMatrix, opts: EvalOptions): Record<string, unknown> {
  const t = performance.now()
  const r = evaluateEstimator(m, opts)
  return summary(r, Math.round(performance.now() - t))
}

/**
 * Run the mesh to steady state, then replace `joiners` peers by fresh
 * estimators and count rounds until their never-probed pairs reach within
 * 10% (or 0.02) of the steady median relative error of the mesh.
 */
function joinConvergence (m: LatencyMatrix, seed: number, joiners = 10): Record<string, unknown> {
  const roundMs = 10_000
  const sim = createSimulation(m, { seed, roundMs })
  for (let r = 0; r < 100; r++) sim.step()
  const rows = Array.from({ length: joiners }, (_, i) => i)
  const steady = sim.score().unprobed.medianRelError
  const target = Math.max(steady * 1.1, steady + 0.02)
  for (const i of rows) sim.rejoin(i)
  const curve: number[] = []
  let converged: number | null = null
  for (let r = 1; r <= 150; r++) {
    sim.step()
    const e = sim.score(rows).unprobed.medianRelError
    curve.push(round(e))
    if (converged === null && e <= target) converged = r
    if (converged !== null && r >= converged + 5) break
  }
  return {
    joiners,
    steadyUnprobedMedian: round(steady),
    target: round(target),
    rounds: converged,
    seconds: converged === null ? null : converged * roundMs / 1000,
    roundSeconds: roundMs / 1000,
    curve
  }
}

const out: Record<string, unknown> = { bench: 'latency/estimator', defaults: { neighbours: 32, rounds: 100, probesPerRound: 8, probeNoise: 0.05 } }

const synthetic: Record<string, unknown>[] = []
for (const seed of seeds) {
  const m = generateWideAreaMatrix({ seed })
  synthetic.push({ ...timed(m, { seed }), vivaldiOnly: timed(m, { seed, estimator: { predictors: ['coord'] } }) })
}
out.synthetic = synthetic

// a family the defaults were not tuned on: 30% of directed pairs take a 1.5-4x detour, 20% jitter
const heldOut: Record<string, unknown>[] = []
for (const seed of seeds) {
  const m = generateWideAreaMatrix({ seed, detours: 0.3, jitter: 0.2 })
  heldOut.push({ ...timed(m, { seed }), vivaldiOnly: timed(m, { seed, estimator: { predictors: ['coord'] } }) })
}
out.detouredSynthetic = heldOut
out.syntheticJoin = joinConvergence(generateWideAreaMatrix({ seed: seeds[0] }), seeds[0])

if (existsSync(matrixFile)) {
  const m = await loadLatencyMatrix(matrixFile)
  const runs: Record<string, unknown>[] = []
  for (const seed of seeds) {
    runs.push({ ...timed(m, { seed }), vivaldiOnly: timed(m, { seed, estimator: { predictors: ['coord'] } }), factorsOnly: timed(m, { seed, estimator: { predictors: ['factors'] } }) })
  }
  out.matrixLong = timed(m, { seed: seeds[0], rounds: 300 })
  out.matrix = { file: matrixFile, name: m.name ?? null, runs }
  out.matrixJoin = joinConvergence(m, seeds[0])
} else {
  out.matrix = { file: matrixFile, skipped: 'file absent' }
}

console.log(JSON.stringify(out))
