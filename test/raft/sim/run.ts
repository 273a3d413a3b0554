/**
 * Simulator runner: `npx tsx test/raft/sim/run.ts --seeds 1000 [--start S] [--steps K]`
 * or replay one seed: `--seed S --verbose`. Prints one JSON summary, exits 1 on failure.
 */
import { Simulation } from './cluster.js'
import type { SimResult } from './cluster.js'

function arg (name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}

const num = (name: string, d: number): number => {
  const v = arg(name)
  if (v === undefined) return d
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`--${name} must be a non-negative integer, got ${v}`)
    process.exit(2)
  }
  return n
}

const verbose = process.argv.includes('--verbose')
const broken = process.argv.includes('--broken-driver')
const asyncLeader = process.argv.includes('--async-leader')
const single = arg('seed')
const start = single !== undefined ? num('seed', 0) : num('start', 1)
const seeds = single !== undefined ? 1 : num('seeds', 100)
const steps = num('steps', 1500)

const t0 = performance.now()
const failures: number[] = []
const errors: Record<number, string> = {}
let ops = 0
let completed = 0
let crashes = 0
let confChanges = 0
let snapshots = 0
let undecided = 0
for (let s = start; s < start + seeds; s++) {
  const sim = new Simulation({ seed: s, steps, verbose, brokenDriver: broken, asyncLeader, log: (l) => { console.error(l) } })
  const r: SimResult = sim.run()
  ops += r.ops
  completed += r.completedOps
  crashes += r.crashes
  confChanges += r.confChanges
  snapshots += r.snapshotsSent
  undecided += r.undecidedKeys.length
  if (!r.ok) {
    failures.push(s)
    errors[s] = r.error ?? ''
    if (verbose) console.error(JSON.stringify(r, null, 2))
  }
}
console.log(JSON.stringify({
  seeds,
  start,
  steps,
  failures,
  errors,
  ops,
  completedOps: completed,
  crashes,
  confChanges,
  snapshotsSent: snapshots,
  undecidedKeys: undecided,
  seconds: Math.round((performance.now() - t0) / 10) / 100
}))
process.exit(failures.length > 0 ? 1 : 0)
