/**
 * Test helpers in the spirit of Serf's coordinate simulation: build RTT
 * matrices of known geometry, run every node's Vivaldi against random peers,
 * and measure how well the coordinates reproduce the matrix.
 */
import { LatencyFilter } from '../../src/latency/filter.js'
import { createPrng } from '../../src/latency/prng.js'
import type { Prng } from '../../src/latency/prng.js'
import { VivaldiNode, distanceMs } from '../../src/latency/vivaldi.js'
import type { Coordinate, VivaldiConfig } from '../../src/latency/vivaldi.js'

export interface VivaldiSim {
  nodes: VivaldiNode[]
  filters: LatencyFilter[]
  prng: Prng
}

export function createVivaldiSim (n: number, seed: number, config: Partial<VivaldiConfig> = {}): VivaldiSim {
  const prng = createPrng(seed)
  return {
    nodes: Array.from({ length: n }, () => new VivaldiNode(config, prng.fork())),
    filters: Array.from({ length: n }, () => new LatencyFilter(3)),
    prng
  }
}

/** Each cycle, every node probes one random other node (as Serf's Simulate). */
export function runCycles (sim: VivaldiSim, rtt: number[][], cycles: number): void {
  const n = sim.nodes.length
  for (let c = 0; c < cycles; c++) {
    for (let i = 0; i < n; i++) {
      let j = sim.prng.int(n - 1)
      if (j >= i) j++
      const filtered = sim.filters[i].push(String(j), rtt[i][j], c).medianMs
      sim.nodes[i].update(sim.nodes[j].coordinate, filtered)
    }
  }
}

export interface ErrorStats {
  avg: number
  max: number
}

/** Relative error |distance - rtt| / rtt over all ordered pairs. */
export function evaluate (sim: VivaldiSim, rtt: number[][]): ErrorStats {
  const coords: Coordinate[] = sim.nodes.map(x => x.coordinate)
  let sum = 0
  let max = 0
  let count = 0
  for (let i = 0; i < coords.length; i++) {
    for (let j = i + 1; j < coords.length; j++) {
      const e = Math.abs(distanceMs(coords[i], coords[j]) - rtt[i][j]) / rtt[i][j]
      sum += e
      max = Math.max(max, e)
      count++
    }
  }
  return { avg: sum / count, max }
}

export function square (n: number, f: (i: number, j: number) => number): number[][] {
  return Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => i === j ? 0 : f(i, j)))
}

/** n nodes on a line, `spacing` ms apart. */
export function lineMatrix (n: number, spacing: number): number[][] {
  return square(n, (i, j) => Math.abs(i - j) * spacing)
}

/** A side x side grid, `spacing` ms apart. */
export function gridMatrix (side: number, spacing: number): number[][] {
  return square(side * side, (i, j) => {
    const dx = (i % side) - (j % side)
    const dy = Math.floor(i / side) - Math.floor(j / side)
    return Math.hypot(dx, dy) * spacing
  })
}

/** Two clusters: `lan` ms inside a cluster, `wan` ms across. */
export function splitMatrix (n: number, lan: number, wan: number): number[][] {
  const half = Math.floor(n / 2)
  return square(n, (i, j) => (i < half) === (j < half) ? lan : wan)
}

/** Random symmetric matrix: mean +- uniform deviation. */
export function randomMatrix (n: number, mean: number, deviation: number, prng: Prng): number[][] {
  const m = square(n, () => 0)
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const v = mean + deviation * (2 * prng.next() - 1)
      m[i][j] = v
      m[j][i] = v
    }
  }
  return m
}
