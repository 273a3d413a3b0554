/**
 * Small seeded PRNG (splitmix32-style mixing) so the core's only randomness,
 * the randomized election timeout, is reproducible from a seed.
 */
export interface Prng {
  /** uniform integer in [0, n) */
  intn (n: number): number
}

export function hashString (s: string): number {
  // FNV-1a 32-bit
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h >>> 0
}

export function createPrng (seed: number): Prng {
  let state = (seed >>> 0) ^ 0x9e3779b9
  const next = (): number => {
    state = (state + 0x9e3779b9) >>> 0
    let z = state
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return (z ^ (z >>> 16)) >>> 0
  }
  return {
    intn (n: number): number {
      if (!Number.isInteger(n) || n <= 0) throw new RangeError('intn: n must be a positive integer')
      return next() % n
    }
  }
}
