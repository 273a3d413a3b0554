/** Seeded randomness for the simulator; every random choice of a run flows from one seed. */
import { createPrng } from '../../../src/latency/prng.js'
import type { Prng } from '../../../src/latency/prng.js'

export class Rng {
  private readonly p: Prng

  constructor (seed: number) {
    this.p = createPrng(seed)
  }

  /** uniform in [0, 1) */
  float (): number {
    return this.p.next()
  }

  /** integer in [lo, hi] */
  int (lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1))
  }

  chance (p: number): boolean {
    return this.float() < p
  }

  pick<T> (xs: readonly T[]): T {
    if (xs.length === 0) throw new Error('pick from empty list')
    return xs[Math.floor(this.float() * xs.length)]
  }
}
