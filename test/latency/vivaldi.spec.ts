/**
 * Serf-style coordinate simulations (line, grid, split, height, random,
 * drift) on our Vivaldi, each with hard error bounds, plus the guards.
 */
import assert from 'node:assert/strict'
import { createPrng } from '../../src/latency/prng.js'
import { VivaldiNode, distanceMs, newCoordinate, DEFAULT_VIVALDI_CONFIG } from '../../src/latency/vivaldi.js'
import { createVivaldiSim, evaluate, gridMatrix, lineMatrix, randomMatrix, runCycles, splitMatrix, square } from './vivaldi-sim.js'

const SEEDS = [1, 2, 3]

describe('latency/vivaldi: Serf-style simulations', () => {
  for (const seed of SEEDS) {
    describe(`seed ${seed}`, () => {
      it('line: 10 nodes 10 ms apart', () => {
        const sim = createVivaldiSim(10, seed)
        const m = lineMatrix(10, 10)
        runCycles(sim, m, 1000)
        const s = evaluate(sim, m)
        assert.ok(s.avg < 0.01 && s.max < 0.05, `seed ${seed}: avg ${s.avg} max ${s.max}`)
      })

      it('grid: 5x5 nodes 10 ms apart', () => {
        const sim = createVivaldiSim(25, seed)
        const m = gridMatrix(5, 10)
        runCycles(sim, m, 1000)
        const s = evaluate(sim, m)
        assert.ok(s.avg < 0.01 && s.max < 0.06, `seed ${seed}: avg ${s.avg} max ${s.max}`)
      })

      it('split: two clusters, 1 ms inside, 10 ms across', () => {
        const sim = createVivaldiSim(25, seed)
        const m = splitMatrix(25, 1, 10)
        runCycles(sim, m, 1000)
        const s = evaluate(sim, m)
        assert.ok(s.avg < 0.01 && s.max < 0.05, `seed ${seed}: avg ${s.avg} max ${s.max}`)
      })

      it('height: hosts on a 100x100 ms plane behind 1..20 ms access links', () => {
        const prng = createPrng(seed * 101)
        const n = 25
        const p = Array.from({ length: n }, () => [100 * prng.next(), 100 * prng.next()])
        const h = Array.from({ length: n }, () => 1 + 19 * prng.next())
        const m = square(n, (i, j) => Math.hypot(p[i][0] - p[j][0], p[i][1] - p[j][1]) + h[i] + h[j])
        const sim = createVivaldiSim(n, seed)
        runCycles(sim, m, 1000)
        const s = evaluate(sim, m)
        assert.ok(s.avg < 0.03 && s.max < 0.35, `seed ${seed}: avg ${s.avg} max ${s.max}`)
        for (const node of sim.nodes) assert.ok(node.coordinate.height >= DEFAULT_VIVALDI_CONFIG.heightMinMs)
      })

      it('random: 100 +- 10 ms symmetric matrix (not metric) stays within bounds', () => {
        const sim = createVivaldiSim(25, seed)
        const m = randomMatrix(25, 100, 10, createPrng(seed * 7))
        runCycles(sim, m, 1000)
        const s = evaluate(sim, m)
        assert.ok(s.avg < 0.08 && s.max < 0.35, `seed ${seed}: avg ${s.avg} max ${s.max}`)
      })

      it('drift: a cluster that moves away is tracked after re-convergence', () => {
        const sim = createVivaldiSim(20, seed)
        const before = splitMatrix(20, 2, 40)
        runCycles(sim, before, 600)
        const s1 = evaluate(sim, before)
        assert.ok(s1.avg < 0.02, `seed ${seed}: before avg ${s1.avg}`)
        const after = splitMatrix(20, 2, 120)
        const stale = evaluate(sim, after)
        assert.ok(stale.avg > 0.3, `seed ${seed}: the move must show up first (avg ${stale.avg})`)
        runCycles(sim, after, 600)
        const s2 = evaluate(sim, after)
        assert.ok(s2.avg < 0.02 && s2.max < 0.1, `seed ${seed}: after avg ${s2.avg} max ${s2.max}`)
      })
    })
  }

  it('gravity pulls the whole cloud toward the origin', () => {
    const centroidNorm = (rho: number): number => {
      const sim = createVivaldiSim(10, 9, { gravityRhoMs: rho })
      const m = lineMatrix(10, 10)
      // start everyone far off the origin, in the same direction
      runCycles(sim, m, 50)
      const nodes = sim.nodes
      for (const node of nodes) {
        // push each coordinate 1 s off the origin along axis 0 via a fake far remote
        const far = newCoordinate(node.config)
        far.vec[0] = -2000
        far.error = 0.01
        for (let k = 0; k < 40; k++) node.update(far, 3000)
      }
      runCycles(sim, m, 300)
      const dims = nodes[0].config.dimensions
      const c = new Array<number>(dims).fill(0)
      for (const node of nodes) node.coordinate.vec.forEach((x, i) => { c[i] += x / nodes.length })
      return Math.hypot(...c)
    }
    const weak = centroidNorm(DEFAULT_VIVALDI_CONFIG.gravityRhoMs)
    const strong = centroidNorm(100)
    assert.ok(weak > 100, `without effective gravity the cloud stays off-centre (${weak})`)
    assert.ok(strong < weak / 2, `gravity must pull the centroid in: rho=100 -> ${strong}, default -> ${weak}`)
  })
})

describe('latency/vivaldi: guards', () => {
  it('two fresh nodes at the origin separate (random direction, no NaN)', () => {
    const a = new VivaldiNode({}, createPrng(1))
    const b = new VivaldiNode({}, createPrng(2))
    for (let k = 0; k < 50; k++) {
      a.update(b.coordinate, 20)
      b.update(a.coordinate, 20)
    }
    const d = distanceMs(a.coordinate, b.coordinate)
    assert.ok(Math.abs(d - 20) < 1, `distance ${d}`)
    for (const x of a.coordinate.vec) assert.ok(Number.isFinite(x))
  })

  it('a NaN or infinite remote coordinate resets instead of poisoning', () => {
    const a = new VivaldiNode({}, createPrng(3))
    const good = newCoordinate(a.config)
    good.vec[0] = 30
    for (let k = 0; k < 10; k++) a.update(good, 30)
    const bad = newCoordinate(a.config)
    bad.vec[1] = NaN
    const after = a.update(bad, 30)
    assert.equal(a.resets, 1)
    for (const x of after.vec) assert.ok(Number.isFinite(x))
    const inf = newCoordinate(a.config)
    inf.height = Infinity
    a.update(inf, 30)
    assert.equal(a.resets, 2)
    assert.ok(Number.isFinite(a.coordinate.height))
  })

  it('the error estimate falls as samples agree and never exceeds errorMax', () => {
    const sim = createVivaldiSim(10, 4)
    const m = lineMatrix(10, 10)
    for (const node of sim.nodes) assert.equal(node.coordinate.error, DEFAULT_VIVALDI_CONFIG.errorMax)
    runCycles(sim, m, 300)
    for (const node of sim.nodes) {
      const e = node.coordinate.error
      assert.ok(e < 0.2 && e <= DEFAULT_VIVALDI_CONFIG.errorMax, `error ${e}`)
    }
  })

  it('same seed, same coordinates', () => {
    const run = (): number[][] => {
      const sim = createVivaldiSim(10, 42)
      const m = lineMatrix(10, 7)
      runCycles(sim, m, 200)
      return sim.nodes.map(n => n.coordinate.vec)
    }
    assert.deepEqual(run(), run())
  })
})
