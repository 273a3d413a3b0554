/**
 * Seeded jitter: a uniform offset in [-jitterMs, +jitterMs] per write.
 * mulberry32 seeded from (seed, link number) so each connection has its own
 * reproducible stream; no Math.random().
 */
export type JitterSource = () => number

export function createJitter (jitterMs: number, seed: number, link: number): JitterSource {
  if (jitterMs <= 0) return () => 0
  let s = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(link + 1, 0x85ebca77)) >>> 0
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return () => (next() * 2 - 1) * jitterMs
}
