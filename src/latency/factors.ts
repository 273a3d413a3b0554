/**
 * Decentralized matrix factorization of log-RTT (after DMFSGD, Liao et al.
 * 2013, adapted to directional RTTs and a relative-error loss).
 *
 * Node i keeps an out-part (bias a_i, vector u_i) and an in-part (bias b_i,
 * vector v_i); the model is  log rtt(i -> j) ~= a_i + b_j + u_i . v_j.
 * Node i fits its out-part on its own probes of j (with j's published
 * in-part), and its in-part on the samples other peers k publish about i in
 * their digests (with k's published out-part). No node ever sees the matrix.
 *
 * The loss is the relative error |est - rtt| / rtt, the figure the
 * evaluation scores: its gradient in log space is capped at one and smoothed
 * near zero. On heavy-tailed noisy rows this yields estimates below the
 * median sample (the relative-error optimal point), not the median.
 */
import type { Prng } from './prng.js'

export interface FactorState {
  outBias: number
  out: number[]
  inBias: number
  in: number[]
}

export interface FactorConfig {
  rank: number
  /** SGD step on log-RTT */
  learningRate: number
  /** L2 pull of the vectors toward zero (biases are not pulled) */
  regularization: number
  /** starting value of the out- and in-bias: each half of log(initialMs) */
  initialMs: number
  /** the loss gradient is linear below this log-residual (smooths the |x| kink) */
  smoothing: number
  /** vector components and biases are clamped to +-this */
  maxAbs: number
  /**
   * least push-up for an underestimate: the pure relative-error gradient
   * exp(-e) fades for large underestimates (their error saturates at 1), this
   * keeps them pulled up
   */
  underFloor: number
  /** std-dev of the initial vector components (random, so the low-rank part starts off symmetric) */
  initScale: number
}

export const DEFAULT_FACTOR_CONFIG: Readonly<FactorConfig> = Object.freeze({
  rank: 3,
  learningRate: 0.03,
  regularization: 0.15,
  initialMs: 100,
  smoothing: 0.05,
  maxAbs: 20,
  initScale: 0.3,
  underFloor: 0.3
})

export function predictLogMs (from: Pick<FactorState, 'outBias' | 'out'>, to: Pick<FactorState, 'inBias' | 'in'>): number {
  let s = from.outBias + to.inBias
  for (let k = 0; k < from.out.length; k++) s += from.out[k] * to.in[k]
  return s
}

/** Predicted RTT (ms) from -> to. */
export function predictMs (from: Pick<FactorState, 'outBias' | 'out'>, to: Pick<FactorState, 'inBias' | 'in'>): number {
  return Math.exp(predictLogMs(from, to))
}

/**
 * Descent direction of the relative-error loss |exp(s) - x| / x in s = log
 * estimate, given the log-residual e = log x - s: positive pushes up.
 */
export function relativeLossStep (e: number, smoothing: number, underFloor = 0): number {
  const slope = Math.min(1, Math.abs(e) / smoothing)
  const g = e > 0 ? Math.max(Math.exp(-e), underFloor) : -Math.exp(-e)
  return slope * Math.max(-1, Math.min(1, g))
}

export class FactorModel {
  readonly config: Readonly<FactorConfig>
  private readonly s: FactorState
  /** out-side updates applied so far */
  outUpdates = 0
  inUpdates = 0

  constructor (config: Partial<FactorConfig>, prng: Prng) {
    this.config = Object.freeze({ ...DEFAULT_FACTOR_CONFIG, ...config })
    const half = Math.log(this.config.initialMs) / 2
    const init = (): number[] => Array.from({ length: this.config.rank }, () => this.config.initScale * prng.normal())
    this.s = { outBias: half, out: init(), inBias: half, in: init() }
  }

  get state (): FactorState {
    return { outBias: this.s.outBias, out: this.s.out.slice(), inBias: this.s.inBias, in: this.s.in.slice() }
  }

  /** RTT this node -> remote (ms). */
  predictTo (remote: Pick<FactorState, 'inBias' | 'in'>): number {
    return predictMs(this.s, remote)
  }

  /** A sample this node measured to `remote`: fit the out-part. */
  updateOut (remote: Pick<FactorState, 'inBias' | 'in'>, rttMs: number): void {
    const x = Math.log(rttMs)
    if (this.outUpdates === 0) {
      // first sample: put the bias where it fits exactly, then learn shape
      this.s.outBias = this.clamp(x - remote.inBias - dot(this.s.out, remote.in))
    }
    const g = relativeLossStep(x - predictLogMs(this.s, remote), this.config.smoothing, this.config.underFloor)
    const { learningRate: eta, regularization: lambda } = this.config
    this.s.outBias = this.clamp(this.s.outBias + eta * g)
    for (let k = 0; k < this.s.out.length; k++) {
      this.s.out[k] = this.clamp(this.s.out[k] + eta * (g * remote.in[k] - lambda * this.s.out[k]))
    }
    this.outUpdates++
  }

  /** A sample `remote` measured to this node (heard in its digest): fit the in-part. */
  updateIn (remote: Pick<FactorState, 'outBias' | 'out'>, rttMs: number): void {
    const x = Math.log(rttMs)
    if (this.inUpdates === 0) {
      this.s.inBias = this.clamp(x - remote.outBias - dot(remote.out, this.s.in))
    }
    const g = relativeLossStep(x - predictLogMs(remote, this.s), this.config.smoothing, this.config.underFloor)
    const { learningRate: eta, regularization: lambda } = this.config
    this.s.inBias = this.clamp(this.s.inBias + eta * g)
    for (let k = 0; k < this.s.in.length; k++) {
      this.s.in[k] = this.clamp(this.s.in[k] + eta * (g * remote.out[k] - lambda * this.s.in[k]))
    }
    this.inUpdates++
  }

  private clamp (x: number): number {
    const m = this.config.maxAbs
    return Number.isFinite(x) ? Math.max(-m, Math.min(m, x)) : 0
  }
}

function dot (a: readonly number[], b: readonly number[]): number {
  let s = 0
  for (let k = 0; k < a.length; k++) s += a[k] * b[k]
  return s
}
