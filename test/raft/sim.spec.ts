import assert from 'node:assert/strict'
import { simulate } from './sim/cluster.js'

const SEEDS = Number(process.env.RAFT_SIM_SEEDS ?? '500')
const START = Number(process.env.RAFT_SIM_START ?? '1')

describe('raft deterministic simulator', function () {
  this.timeout(180_000)

  it(`${SEEDS} seeds keep election safety, log matching, leader completeness, state-machine safety and linearizability`, () => {
    const failures: string[] = []
    let ops = 0
    let completed = 0
    let crashes = 0
    let confChanges = 0
    let snaps = 0
    for (let s = START; s < START + SEEDS; s++) {
      const r = simulate({ seed: s })
      ops += r.ops
      completed += r.completedOps
      crashes += r.crashes
      confChanges += r.confChanges
      snaps += r.snapshotsSent
      if (!r.ok) failures.push(`seed ${s}: ${r.error ?? ''} (replay: npx tsx test/raft/sim/run.ts --seed ${s} --verbose)`)
    }
    assert.deepEqual(failures, [])
    // the scenario must actually exercise the system
    assert.ok(completed > SEEDS * 50, `too few completed client ops: ${completed}/${ops}`)
    assert.ok(crashes > SEEDS, `too few crashes: ${crashes}`)
    assert.ok(confChanges > SEEDS / 2, `too few membership changes: ${confChanges}`)
    assert.ok(snaps > 0, 'no snapshot was ever sent')
  })

  it('replays a seed exactly', () => {
    const a = simulate({ seed: 4242 })
    const b = simulate({ seed: 4242 })
    assert.deepEqual(a, b)
  })

  it('catches a driver that sends before persisting (the checks can fail)', () => {
    const failed: number[] = []
    for (let s = 1; s <= 40; s++) {
      const r = simulate({ seed: s, brokenDriver: true })
      if (!r.ok) failed.push(s)
    }
    assert.ok(failed.length > 0, 'a driver that loses unsynced writes on crash went unnoticed for 40 seeds')
  })
})
