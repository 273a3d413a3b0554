/**
 * Seeded jitter: a uniform offset in [-jitterMs, +jitterMs] per write, drawn
 * from the latency code's seeded PRNG (../prng.ts) seeded from (seed, link
 * number), so each connection has its own reproducible stream; no
 * Math.random().
 */
import { createPrng } from '../prng.js'

export type JitterSource = () => number

export function createJitter (jitterMs: number, seed: number, link: number): JitterSource {
  if (jitterMs <= 0) return () => 0
  const prng = createPrng((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(link + 1, 0x85ebca77)) >>> 0)
  return () => (prng.next() * 2 - 1) * jitterMs
}
