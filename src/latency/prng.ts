/**
 * A small seeded pseudo-random generator (sfc32, Chris Doty-Humphrey's
 * "small fast counting" generator) for the deterministic latency code.
 *
 * Nothing in src/latency draws from Math.random(): every random choice comes
 * from a Prng handed in by the caller, so a seed replays a run exactly.
 */
export interface Prng {
  /** uniform in [0, 1) */
  next(): number
  /** uniform integer in [0, n) */
  int(n: number): number
  /** standard normal (Box-Muller) */
  normal(): number
  /** an independent generator derived from this one (for per-node streams) */
  fork(): Prng
}

/** Mix a 32-bit seed into four words of state (splitmix32 steps). */
function splitmix32 (seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x9e3779b9) >>> 0
    let z = s
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return (z ^ (z >>> 16)) >>> 0
  }
}

class Sfc32 implements Prng {
  private a: number
  private b: number
  private c: number
  private d: number
  private spare: number | undefined

  constructor (a: number, b: number, c: number, d: number) {
    this.a = a >>> 0
    this.b = b >>> 0
    this.c = c >>> 0
    this.d = d >>> 0
    // discard the first outputs so nearby seeds diverge
    for (let i = 0; i < 12; i++) this.nextUint32()
  }

  nextUint32 (): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0
    this.d = (this.d + 1) >>> 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) >>> 0
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0
    this.c = (this.c + t) >>> 0
    return t
  }

  next (): number {
    return this.nextUint32() / 4294967296
  }

  int (n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`int(n) needs a positive integer, got ${n}`)
    return Math.floor(this.next() * n)
  }

  normal (): number {
    if (this.spare !== undefined) {
      const s = this.spare
      this.spare = undefined
      return s
    }
    let u = 0
    while (u <= Number.EPSILON) u = this.next()
    const v = this.next()
    const r = Math.sqrt(-2 * Math.log(u))
    this.spare = r * Math.sin(2 * Math.PI * v)
    return r * Math.cos(2 * Math.PI * v)
  }

  fork (): Prng {
    return new Sfc32(this.nextUint32(), this.nextUint32(), this.nextUint32(), this.nextUint32())
  }
}

/** A generator from a seed (any finite number; only its low 32 bits count after truncation). */
export function createPrng (seed: number): Prng {
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`)
  const mix = splitmix32(Math.trunc(seed) >>> 0)
  return new Sfc32(mix(), mix(), mix(), mix())
}

/** Fisher-Yates shuffle of a copy, driven by the given generator. */
export function shuffled<T> (items: readonly T[], prng: Prng): T[] {
  const out = items.slice()
  for (let i = out.length - 1; i > 0; i--) {
    const j = prng.int(i + 1)
    const t = out[i]
    out[i] = out[j]
    out[j] = t
  }
  return out
}
