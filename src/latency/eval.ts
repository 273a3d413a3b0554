/**
 * Offline evaluation of the peers' own latency estimator on a latency
 * matrix (the engine of `dcis latency-eval`).
 *
 * Every node runs createLatencyEstimator(). Each node draws at most
 * `neighbours` peers it has a measurement to (seeded; null = unmeasured,
 * never probed). A round is one gossip period: every node probes
 * `probesPerRound` of its neighbours in turn (a probe samples the matrix
 * entry, times lognormal noise), then every node publishes its state and
 * every node hears every state (the gossip topic floods the mesh). After the
 * last round every measured pair (i, j), probed or not, is scored with node
 * i's own estimate(j): |estimate - rtt| / rtt.
 */
import { createLatencyEstimator } from './estimator.js'
import type { LatencyEstimator, LatencyEstimatorInit, Predictor } from './estimator.js'
import { LatencyConfigError } from './errors.js'
import type { LatencyMatrix } from './matrix.js'
import { createPrng, shuffled } from './prng.js'
import { compactState, mergeDigest, validateRemoteState } from './state.js'
import type { LatencyState } from './state.js'
import { quantileSorted } from './stats.js'

export interface EvalOptions {
  /** seeds neighbour choice, probe noise and every node's estimator (default 1) */
  seed?: number
  /** probed peers per node (default 32) */
  neighbours?: number
  /** gossip rounds (default 100) */
  rounds?: number
  /** probes each node sends per round (default 8) */
  probesPerRound?: number
  /** std-dev of the lognormal probe noise (default 0.05; 0 = probes return the matrix entry) */
  probeNoise?: number
  /** simulated length of a round, ms (default 10 000) */
  roundMs?: number
  /**
   * publish as the peers' latency service does: each state carries only the
   * medians measured since the node's last state, at most this many, on the
   * wire's precision, and receivers merge it into what the node said before
   * (default: off, every state carries the whole digest)
   */
  digestSize?: number
  /** extra estimator settings (the defaults are the peers' defaults) */
  estimator?: Partial<Omit<LatencyEstimatorInit, 'selfId' | 'seed' | 'now'>>
}

export interface EvalResult {
  name?: string
  nodes: number
  /** measured (scored) pairs */
  pairs: number
  medianRelError: number
  p90RelError: number
  rounds: number
  seed: number
  neighbours: number
  /** scored pairs the node had probed itself (answered by its direct median) */
  probedPairs: number
  /** the same figures over the pairs the node never probed (pure estimates) */
  unprobed: { pairs: number, medianRelError: number, p90RelError: number }
  /** median of (estimate - rtt) / rtt: negative = estimates run low */
  medianSignedRelError: number
  /** how many scored pairs each kind of answer covered */
  answeredBy: Record<'measured' | Predictor | 'none', number>
}

function checkInt (x: number, field: string, min: number, max: number): number {
  if (!Number.isInteger(x) || x < min || x > max) throw new LatencyConfigError(field, `must be an integer in [${min}, ${max}], got ${x}`)
  return x
}

export interface Simulation {
  readonly estimators: LatencyEstimator[]
  readonly neighbours: number[][]
  /** run one gossip round */
  step(): void
  /** rounds run so far */
  readonly round: number
  /** score all measured pairs (or only those from the given nodes) */
  score(from?: Iterable<number>): EvalResult
  /** replace node i's estimator with a fresh one (a newly joined peer) */
  rejoin(i: number): void
}

/** Build the simulated mesh without running it (the bench drives it round by round). */
export function createSimulation (matrix: LatencyMatrix, options: EvalOptions = {}): Simulation {
  const seed = options.seed ?? 1
  if (!Number.isFinite(seed)) throw new LatencyConfigError('seed', 'must be a finite number')
  const k = checkInt(options.neighbours ?? 32, 'neighbours', 1, 10_000)
  const perRound = checkInt(options.probesPerRound ?? 8, 'probesPerRound', 1, 10_000)
  const noise = options.probeNoise ?? 0.05
  if (!(Number.isFinite(noise) && noise >= 0 && noise <= 2)) throw new LatencyConfigError('probeNoise', 'must be in [0, 2]')
  const digestSize = options.digestSize === undefined ? undefined : checkInt(options.digestSize, 'digestSize', 1, 1024)
  const roundMs = options.roundMs ?? 10_000
  if (!(Number.isFinite(roundMs) && roundMs > 0)) throw new LatencyConfigError('roundMs', 'must be > 0')
  const n = matrix.nodes.length
  const rtt = matrix.rtt
  const prng = createPrng(seed)
  const noisePrng = prng.fork()
  let now = 0
  const clock = (): number => now

  const neighbours: number[][] = []
  for (let i = 0; i < n; i++) {
    const candidates: number[] = []
    for (let j = 0; j < n; j++) if (j !== i && rtt[i][j] !== null) candidates.push(j)
    neighbours.push(shuffled(candidates, prng).slice(0, k))
  }
  const estimatorSeeds = Array.from({ length: n }, () => prng.int(2 ** 31))
  let joins = 0
  const make = (i: number): LatencyEstimator => createLatencyEstimator({
    ...options.estimator,
    selfId: matrix.nodes[i],
    seed: estimatorSeeds[i] + joins * 7919,
    now: clock
  })
  const estimators = Array.from({ length: n }, (_, i) => make(i))
  const cursor = new Array<number>(n).fill(0)
  /** with digestSize: per node, the sample counts it published, and its merged digest as everyone holds it */
  const sent = Array.from({ length: n }, () => new Map<string, number>())
  const heard = new Array<LatencyState | undefined>(n)
  let round = 0

  const step = (): void => {
    now += roundMs
    for (let i = 0; i < n; i++) {
      const nb = neighbours[i]
      if (nb.length === 0) continue
      for (let p = 0; p < Math.min(perRound, nb.length); p++) {
        const j = nb[cursor[i] % nb.length]
        cursor[i]++
        const truth = rtt[i][j] as number
        const sample = noise === 0 ? truth : truth * Math.exp(noise * noisePrng.normal())
        estimators[i].observe(matrix.nodes[j], sample)
      }
    }
    // everyone publishes; the topic delivers each state to everyone
    const states = estimators.map((e, j) => digestSize === undefined ? e.publicState() : compactState(e.publicState({ changedSince: sent[j], maxSamples: digestSize })))
    for (let j = 0; j < n; j++) {
      const check = validateRemoteState(states[j], estimators[j].limits)
      if (!check.ok) throw new Error(`simulation produced an invalid state at node ${j}: ${check.message}`)
      let state = check.state
      if (digestSize !== undefined) {
        for (const d of state.samples) {
          sent[j].delete(d.peer)
          sent[j].set(d.peer, d.n)
        }
        // every node hears every state, so what they merge is the same for all
        state = { ...state, samples: mergeDigest(state.samples, heard[j]?.samples ?? [], estimators[j].limits.maxDigest) }
        heard[j] = state
      }
      for (let i = 0; i < n; i++) if (i !== j) estimators[i].hearValidated(matrix.nodes[j], state)
    }
    round++
  }

  const score = (from?: Iterable<number>): EvalResult => {
    const rows = from === undefined ? Array.from({ length: n }, (_, i) => i) : [...from]
    const all: number[] = []
    const unprobed: number[] = []
    const signed: number[] = []
    const answeredBy: EvalResult['answeredBy'] = { measured: 0, coord: 0, factors: 0, reverse: 0, none: 0 }
    let probedPairs = 0
    for (const i of rows) {
      const probed = new Set(neighbours[i])
      for (let j = 0; j < n; j++) {
        const truth = rtt[i][j]
        if (i === j || truth === null) continue
        const est = estimators[i].estimate(matrix.nodes[j])
        const value = est?.ms ?? 0
        if (est === undefined) answeredBy.none++
        else if (est.source === 'measured') answeredBy.measured++
        else answeredBy[est.predictor ?? 'coord']++
        const rel = Math.abs(value - truth) / truth
        all.push(rel)
        signed.push((value - truth) / truth)
        if (probed.has(j)) probedPairs++
        else unprobed.push(rel)
      }
    }
    const asc = (a: number[]): number[] => a.sort((x, y) => x - y)
    asc(all)
    asc(unprobed)
    asc(signed)
    return {
      ...(matrix.name !== undefined ? { name: matrix.name } : {}),
      nodes: n,
      pairs: all.length,
      medianRelError: quantileSorted(all, 0.5),
      p90RelError: quantileSorted(all, 0.9),
      rounds: round,
      seed,
      neighbours: k,
      probedPairs,
      unprobed: { pairs: unprobed.length, medianRelError: quantileSorted(unprobed, 0.5), p90RelError: quantileSorted(unprobed, 0.9) },
      medianSignedRelError: quantileSorted(signed, 0.5),
      answeredBy
    }
  }

  const rejoin = (i: number): void => {
    joins++
    estimators[i] = make(i)
    sent[i].clear()
    heard[i] = undefined
    for (const e of estimators) if (e !== estimators[i]) e.forget(matrix.nodes[i])
  }

  return {
    estimators,
    neighbours,
    step,
    get round () { return round },
    score,
    rejoin
  }
}

/** Run the whole evaluation: `rounds` gossip rounds, then score every measured pair. */
export function evaluateEstimator (matrix: LatencyMatrix, options: EvalOptions = {}): EvalResult {
  const rounds = checkInt(options.rounds ?? 100, 'rounds', 1, 1_000_000)
  const sim = createSimulation(matrix, options)
  for (let r = 0; r < rounds; r++) sim.step()
  return sim.score()
}

const fmt = (x: number): string => Number.isFinite(x) ? x.toFixed(3) : String(x)

/** The human-readable report of `dcis latency-eval` (without --json). */
export function formatEvalReport (r: EvalResult): string {
  const lines = [
    `latency-eval${r.name !== undefined ? ` ${r.name}` : ''}: ${r.nodes} nodes, ${r.pairs} measured pairs, ${r.rounds} rounds, ${r.neighbours} probed neighbours per node, seed ${r.seed}`,
    `  all pairs:      median relative error ${fmt(r.medianRelError)}  p90 ${fmt(r.p90RelError)}`,
    `  never probed:   median relative error ${fmt(r.unprobed.medianRelError)}  p90 ${fmt(r.unprobed.p90RelError)}  (${r.unprobed.pairs} pairs)`,
    `  probed pairs:   ${r.probedPairs} (answered by the direct median)`,
    `  median signed relative error ${fmt(r.medianSignedRelError)} (negative = estimates low)`,
    `  answered by: measured ${r.answeredBy.measured}, coordinates ${r.answeredBy.coord}, factors ${r.answeredBy.factors}, reverse samples ${r.answeredBy.reverse}, none ${r.answeredBy.none}`
  ]
  return lines.join('\n')
}
