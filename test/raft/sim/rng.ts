/** Seeded PRNG for the simulator (mulberry32); every random choice of a run flows from one seed. */
export class Rng {
  private s: number

  constructor (seed: number) {
    this.s = (seed >>> 0) ^ 0x6d2b79f5
  }

  /** uniform in [0, 1) */
  float (): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0
    let t = this.s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
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
