/**
 * Vivaldi network coordinates, Serf variant (Dabek et al. 2004, with the
 * height vectors of the paper, the adjustment term and the gravity of
 * Ledlie et al. "Network coordinates in the wild", as hashicorp/serf uses
 * them). Pure and deterministic: the only randomness (a direction to push
 * apart two coincident coordinates) comes from the injected Prng.
 *
 * Units are milliseconds throughout.
 */
import type { Prng } from './prng.js'

export interface Coordinate {
  /** Euclidean part, `dimensions` long */
  vec: number[]
  /** access-link height (>= heightMinMs), added to every distance */
  height: number
  /** windowed mean of (rtt - raw distance) / 2, added per end */
  adjustment: number
  /** this node's confidence in its coordinate: 0 = exact, errorMax = none */
  error: number
}

export interface VivaldiConfig {
  dimensions: number
  /** ceiling (and starting value) of the error estimate */
  errorMax: number
  /** weight of a new sample in the error estimate (Serf VivaldiCE) */
  ce: number
  /** timestep scale (Serf VivaldiCC) */
  cc: number
  /** samples in the adjustment window; 0 disables the adjustment term */
  adjustmentWindow: number
  heightMinMs: number
  /** gravity toward the origin: force = (distance / rho)^2 */
  gravityRhoMs: number
}

export const DEFAULT_VIVALDI_CONFIG: Readonly<VivaldiConfig> = Object.freeze({
  dimensions: 8,
  errorMax: 1.5,
  ce: 0.25,
  cc: 0.25,
  adjustmentWindow: 20,
  heightMinMs: 0.01,
  gravityRhoMs: 150_000
})

/** Below this, lengths and RTTs count as zero (ms). */
const ZERO_MS = 1e-3

export function newCoordinate (config: Pick<VivaldiConfig, 'dimensions' | 'errorMax' | 'heightMinMs'>): Coordinate {
  return {
    vec: new Array<number>(config.dimensions).fill(0),
    height: config.heightMinMs,
    adjustment: 0,
    error: config.errorMax
  }
}

export function cloneCoordinate (c: Coordinate): Coordinate {
  return { vec: c.vec.slice(), height: c.height, adjustment: c.adjustment, error: c.error }
}

function magnitude (v: readonly number[]): number {
  let s = 0
  for (const x of v) s += x * x
  return Math.sqrt(s)
}

/** Euclidean distance plus both heights, without the adjustment terms. */
export function rawDistanceMs (a: Coordinate, b: Coordinate): number {
  let s = 0
  for (let i = 0; i < a.vec.length; i++) {
    const d = a.vec[i] - b.vec[i]
    s += d * d
  }
  return Math.sqrt(s) + a.height + b.height
}

/** The predicted RTT between two coordinates (ms): raw distance plus adjustments when that stays positive. */
export function distanceMs (a: Coordinate, b: Coordinate): number {
  const raw = rawDistanceMs(a, b)
  const adjusted = raw + a.adjustment + b.adjustment
  return adjusted > 0 ? adjusted : raw
}

/** True when every component is finite and the dimensions match. */
export function isFiniteCoordinate (c: Coordinate, dimensions: number): boolean {
  if (c.vec.length !== dimensions) return false
  for (const x of c.vec) if (!Number.isFinite(x)) return false
  return Number.isFinite(c.height) && Number.isFinite(c.adjustment) && Number.isFinite(c.error)
}

/**
 * One node's Vivaldi state. `update()` takes an already filtered RTT (see
 * LatencyFilter) and the remote's coordinate, and moves this coordinate.
 */
export class VivaldiNode {
  readonly config: Readonly<VivaldiConfig>
  private coord: Coordinate
  private readonly origin: Coordinate
  private readonly adjustmentSamples: number[]
  private adjustmentIndex = 0
  private readonly prng: Prng
  /** times the coordinate went non-finite and was reset */
  resets = 0

  constructor (config: Partial<VivaldiConfig>, prng: Prng) {
    this.config = Object.freeze({ ...DEFAULT_VIVALDI_CONFIG, ...config })
    this.prng = prng
    this.coord = newCoordinate(this.config)
    this.origin = newCoordinate(this.config)
    this.adjustmentSamples = new Array<number>(this.config.adjustmentWindow).fill(0)
  }

  /** A copy of the current coordinate. */
  get coordinate (): Coordinate {
    return cloneCoordinate(this.coord)
  }

  /** Forget everything learned (back to the origin with maximal error). */
  reset (): void {
    this.coord = newCoordinate(this.config)
    this.adjustmentSamples.fill(0)
    this.adjustmentIndex = 0
  }

  /**
   * Move toward/away from `remote` so that the distance approaches `rttMs`.
   * The caller has validated `remote` (finite, right dimensions) and clamped
   * rttMs into its accepted range.
   */
  update (remote: Coordinate, rttMs: number): Coordinate {
    this.updateVivaldi(remote, rttMs)
    this.updateAdjustment(remote, rttMs)
    this.updateGravity()
    if (!isFiniteCoordinate(this.coord, this.config.dimensions)) {
      // a poisoned input slipped through: start over rather than spread NaN
      this.resets++
      this.reset()
    }
    return this.coordinate
  }

  private updateVivaldi (remote: Coordinate, rttMs: number): void {
    const rtt = Math.max(rttMs, ZERO_MS)
    const dist = distanceMs(this.coord, remote)
    const wrongness = Math.abs(dist - rtt) / rtt
    const totalError = Math.max(this.coord.error + remote.error, ZERO_MS)
    const weight = this.coord.error / totalError
    const ce = this.config.ce * weight
    this.coord.error = Math.min(this.config.errorMax, ce * wrongness + this.coord.error * (1 - ce))
    const force = this.config.cc * weight * (rtt - dist)
    this.applyForce(force, remote)
  }

  private updateAdjustment (remote: Coordinate, rttMs: number): void {
    const window = this.config.adjustmentWindow
    if (window === 0) return
    this.adjustmentSamples[this.adjustmentIndex] = rttMs - rawDistanceMs(this.coord, remote)
    this.adjustmentIndex = (this.adjustmentIndex + 1) % window
    let sum = 0
    for (const s of this.adjustmentSamples) sum += s
    this.coord.adjustment = sum / (2 * window)
  }

  private updateGravity (): void {
    const dist = distanceMs(this.origin, this.coord)
    const force = -Math.pow(dist / this.config.gravityRhoMs, 2)
    this.applyForce(force, this.origin)
  }

  /** Push this coordinate along the unit vector from `other` by `force` ms; heights share the push. */
  private applyForce (force: number, other: Coordinate): void {
    const dims = this.config.dimensions
    const diff = new Array<number>(dims)
    for (let i = 0; i < dims; i++) diff[i] = this.coord.vec[i] - other.vec[i]
    const mag = magnitude(diff)
    let unit: number[]
    if (mag > ZERO_MS) {
      unit = diff.map(x => x / mag)
    } else {
      unit = this.randomUnitVector()
    }
    for (let i = 0; i < dims; i++) this.coord.vec[i] += unit[i] * force
    if (mag > ZERO_MS) {
      const h = (this.coord.height + other.height) * force / mag + this.coord.height
      this.coord.height = Math.max(h, this.config.heightMinMs)
    }
  }

  private randomUnitVector (): number[] {
    const dims = this.config.dimensions
    for (let attempt = 0; attempt < 16; attempt++) {
      const v = new Array<number>(dims)
      for (let i = 0; i < dims; i++) v[i] = this.prng.next() - 0.5
      const m = magnitude(v)
      if (m > ZERO_MS / 1000) return v.map(x => x / m)
    }
    const v = new Array<number>(dims).fill(0)
    v[0] = 1
    return v
  }
}
