/**
 * The latency estimator each peer runs: Vivaldi coordinates (Serf variant)
 * and decentralized log-RTT factors, fed only by this peer's own probes and
 * the states other peers publish by gossip. Pure: no timers, no I/O; the
 * clock and the randomness are injected.
 *
 * For a peer with a fresh direct median, that median is the answer
 * ("measured"). Otherwise the estimator uses whichever predictor has been
 * more accurate on its own recent probes (prequential error: each predictor
 * is scored on a probe before it learns from it): the coordinate distance,
 * the factor product, or the reverse-direction sample the peer published.
 */
import { LatencyFilter } from './filter.js'
import type { FilteredSample } from './filter.js'
import { FactorModel, predictMs, DEFAULT_FACTOR_CONFIG } from './factors.js'
import type { FactorConfig } from './factors.js'
import { LruMap } from './lru.js'
import { createPrng } from './prng.js'
import { LATENCY_STATE_VERSION, validateRemoteState } from './state.js'
import type { DigestSample, LatencyState, RemoteStateCheck, StateLimits } from './state.js'
import { VivaldiNode, distanceMs, DEFAULT_VIVALDI_CONFIG } from './vivaldi.js'
import type { VivaldiConfig } from './vivaldi.js'
import { InvalidRttError, LatencyConfigError } from './errors.js'

export type EstimateSource = 'measured' | 'estimated'
export type Predictor = 'coord' | 'factors' | 'reverse'

export interface LatencyEstimate {
  /** best estimate of the RTT (ms) */
  ms: number
  /** error bound (ms): spread of the direct samples, or the predictor's running relative error times ms */
  errorMs: number
  source: EstimateSource
  /** 0..1, higher is better */
  confidence: number
  /** which predictor produced an 'estimated' value */
  predictor?: Predictor
}

export interface LatencyEstimatorInit {
  /** this peer's id as it appears in other peers' digests */
  selfId: string
  /** seeds the (only) randomness: initial factors and Vivaldi tie-breaks */
  seed: number
  /** Vivaldi dimensions (default 8) */
  dimensions?: number
  /** factor rank (default 3) */
  rank?: number
  vivaldi?: Partial<Omit<VivaldiConfig, 'dimensions'>>
  factors?: Partial<Omit<FactorConfig, 'rank'>>
  /** samples in the per-peer median filter (default 3, as Serf) */
  filterSize?: number
  /** peers whose state and samples are kept (LRU, default 512) */
  maxPeers?: number
  /** direct samples in the published digest (default 32) */
  maxDigest?: number
  /** RTT samples above this are clamped to it (default 10 000 ms, Serf's 10 s ceiling) */
  maxRttMs?: number
  /** a direct median younger than this wins over any estimate (default 120 000 ms) */
  freshMs?: number
  /** the driver's clock in ms (default Date.now) */
  now?: () => number
  /** predictors allowed for 'estimated' answers (default all; ['coord'] = plain Vivaldi) */
  predictors?: Predictor[]
}

export interface DigestOptions {
  /** peer -> the sample count (`n`) last published: a median not measured since is left out */
  changedSince?: ReadonlyMap<string, number>
  /** at most this many samples (default and ceiling: maxDigest) */
  maxSamples?: number
}

export interface EstimatorStats {
  peersTracked: number
  directPeers: number
  probes: number
  /** samples above maxRttMs that were clamped */
  clampedSamples: number
  coordinateResets: number
  /** running relative errors of each predictor on this peer's own probes */
  predictorError: Record<Predictor, number>
}

export interface LatencyEstimator {
  readonly selfId: string
  readonly limits: Readonly<StateLimits>
  /**
   * A direct RTT sample to `peerId` (one ping), optionally with the state the
   * peer published. Throws InvalidRttError if rttMs is not a finite number
   * > 0; a sample above maxRttMs is clamped to maxRttMs (and counted).
   * Returns the check of `remoteState` when one was given.
   */
  observe(peerId: string, rttMs: number, remoteState?: unknown): RemoteStateCheck | undefined
  /** A state heard by gossip from `peerId`: validated, stored, learned from. */
  hear(peerId: string, remoteState: unknown): RemoteStateCheck
  /**
   * As hear() for a state that already passed validateRemoteState() with this
   * estimator's `limits` (lets a driver validate a message once for metrics
   * and hand it on, or a simulation deliver one state to many peers).
   */
  hearValidated(peerId: string, state: LatencyState): void
  /**
   * What this peer publishes (small, bounded): its coordinate, factors,
   * errors and up to `maxDigest` fresh direct medians, newest first. With
   * `changedSince` (peer -> sample count last sent) only the medians
   * measured again since are included, and at most `maxSamples` of them: a
   * digest of news, constant in size however many peers are measured. Peers
   * never published come first (newest first), then the others in the
   * map's iteration order, which the caller keeps least recently published
   * first (delete and set again on each publication).
   */
  publicState(options?: DigestOptions): LatencyState
  /**
   * Best estimate of the RTT self -> peerId, or undefined if nothing is known
   * of it. `modelOnly` skips the direct median (for showing the model's
   * figure beside the measured one).
   */
  estimate(peerId: string, options?: { modelOnly?: boolean }): LatencyEstimate | undefined
  /** The filtered direct samples to a peer, fresh or not, if any. */
  direct(peerId: string): FilteredSample | undefined
  /** Estimate RTT a -> b from two published states (for pairs this peer is not part of). */
  estimateBetween(a: LatencyState, b: LatencyState, bId?: string): LatencyEstimate
  /** Peers this estimator knows anything about (published state or direct samples). */
  peers(): string[]
  /** Drop everything about a peer. */
  forget(peerId: string): void
  stats(): EstimatorStats
}

/** Weight of a new probe in the running predictor errors. */
const ERROR_EWMA = 0.05
/** Relative errors are capped here before averaging so one outlier cannot dominate. */
const ERROR_CAP = 4

interface PeerRecord {
  state: LatencyState
  /** the peer's sample count of us when we last learned from it */
  learnedN: number
}

class Estimator implements LatencyEstimator {
  readonly selfId: string
  readonly limits: Readonly<StateLimits>
  private readonly vivaldi: VivaldiNode
  private readonly factors: FactorModel
  private readonly filter: LatencyFilter
  private readonly remotes: LruMap<string, PeerRecord>
  private readonly freshMs: number
  private readonly now: () => number
  private readonly err: Record<Predictor, number> = { coord: 1, factors: 1, reverse: 1 }
  private probes = 0
  private clamped = 0
  private readonly allowed: ReadonlySet<Predictor>

  constructor (init: LatencyEstimatorInit) {
    if (typeof init.selfId !== 'string' || init.selfId.length === 0) throw new LatencyConfigError('selfId', 'must be a non-empty string')
    if (!Number.isFinite(init.seed)) throw new LatencyConfigError('seed', 'must be a finite number')
    const dimensions = posInt(init.dimensions ?? DEFAULT_VIVALDI_CONFIG.dimensions, 'dimensions', 64)
    const rank = posInt(init.rank ?? DEFAULT_FACTOR_CONFIG.rank, 'rank', 64)
    const maxPeers = posInt(init.maxPeers ?? 512, 'maxPeers', 1_000_000)
    const maxDigest = posInt(init.maxDigest ?? 32, 'maxDigest', 1024)
    const maxRttMs = init.maxRttMs ?? 10_000
    if (!(Number.isFinite(maxRttMs) && maxRttMs > 0)) throw new LatencyConfigError('maxRttMs', 'must be a positive finite number')
    this.freshMs = init.freshMs ?? 120_000
    if (!(this.freshMs >= 0)) throw new LatencyConfigError('freshMs', 'must be >= 0')
    this.selfId = init.selfId
    const allowed = init.predictors ?? ['coord', 'factors', 'reverse']
    if (!Array.isArray(allowed) || allowed.length === 0 || !allowed.every(p => p === 'coord' || p === 'factors' || p === 'reverse')) {
      throw new LatencyConfigError('predictors', 'must be a non-empty list of coord, factors, reverse')
    }
    this.allowed = new Set(allowed)
    const prng = createPrng(init.seed)
    this.vivaldi = new VivaldiNode({ ...init.vivaldi, dimensions }, prng.fork())
    this.factors = new FactorModel({ ...init.factors, rank }, prng.fork())
    this.filter = new LatencyFilter(init.filterSize ?? 3, maxPeers)
    this.remotes = new LruMap(maxPeers)
    this.now = init.now ?? Date.now
    this.limits = Object.freeze({
      dimensions,
      rank,
      maxDigest,
      maxRttMs,
      maxCoordMs: 10 * maxRttMs,
      maxFactor: this.factors.config.maxAbs,
      maxPeerIdLength: 256
    })
  }

  observe (peerId: string, rttMs: number, remoteState?: unknown): RemoteStateCheck | undefined {
    if (typeof rttMs !== 'number' || !Number.isFinite(rttMs) || rttMs <= 0) {
      throw new InvalidRttError(rttMs, this.limits.maxRttMs)
    }
    if (rttMs > this.limits.maxRttMs) this.clamped++
    const sample = Math.min(rttMs, this.limits.maxRttMs)
    const check = remoteState === undefined ? undefined : this.hear(peerId, remoteState)
    const filtered = this.filter.push(peerId, sample, this.now()).medianMs
    this.probes++
    const remote = this.remotes.get(peerId)?.state
    if (remote === undefined) return check
    // score each predictor before it learns from this sample
    const own = this.ownPrediction(remote)
    this.track('coord', own.coord, filtered)
    this.track('factors', own.factors, filtered)
    if (own.reverse !== undefined) this.track('reverse', own.reverse, filtered)
    this.vivaldi.update(remote.coord, filtered)
    this.factors.updateOut(remote.factors, filtered)
    return check
  }

  hear (peerId: string, remoteState: unknown): RemoteStateCheck {
    const check = validateRemoteState(remoteState, this.limits)
    if (check.ok) this.hearValidated(peerId, check.state)
    return check
  }

  hearValidated (peerId: string, state: LatencyState): void {
    if (peerId === this.selfId) return
    const rec = this.remotes.get(peerId)
    let learnedN = rec?.learnedN ?? 0
    for (const s of state.samples) {
      if (s.peer === this.selfId) {
        // learn once per new measurement of us, not once per repeat of the digest
        if (s.n !== learnedN) {
          this.factors.updateIn(state.factors, s.ms)
          learnedN = s.n
        }
        break
      }
    }
    if (rec === undefined) {
      this.remotes.set(peerId, { state, learnedN })
    } else {
      rec.state = state
      rec.learnedN = learnedN
    }
  }

  publicState (options: DigestOptions = {}): LatencyState {
    const now = this.now()
    const ids = this.filter.peerIds()
    const samples: DigestSample[] = []
    const max = Math.min(this.limits.maxDigest, options.maxSamples ?? Infinity)
    const since = options.changedSince
    const take = (id: string): void => {
      const f = this.filter.get(id)
      if (f === undefined || now - f.at > this.freshMs || since?.get(id) === f.total) return
      samples.push({ peer: id, ms: f.medianMs, n: f.total })
    }
    // newest first, only fresh ones (and, given `changedSince`, only news), at most `max`
    for (let i = ids.length - 1; i >= 0 && samples.length < max; i--) {
      if (since === undefined || !since.has(ids[i])) take(ids[i])
    }
    // then news of peers published before, in the map's order (the caller
    // keeps it least recently published first): with more news than room,
    // every peer's turn comes, where newest-first would starve the peers
    // probed early in each round
    if (since !== undefined) {
      for (const id of since.keys()) {
        if (samples.length >= max) break
        take(id)
      }
    }
    return {
      v: LATENCY_STATE_VERSION,
      coord: this.vivaldi.coordinate,
      factors: this.factors.state,
      err: { coord: this.err.coord, factors: this.err.factors },
      samples
    }
  }

  estimate (peerId: string, options: { modelOnly?: boolean } = {}): LatencyEstimate | undefined {
    if (peerId === this.selfId) return { ms: 0, errorMs: 0, source: 'measured', confidence: 1 }
    const direct = options.modelOnly === true ? undefined : this.filter.get(peerId)
    if (direct !== undefined && this.now() - direct.at <= this.freshMs) {
      return measured(direct, this.filter.size)
    }
    const remote = this.remotes.peek(peerId)?.state
    if (remote === undefined) {
      if (direct !== undefined) return { ...measured(direct, this.filter.size), confidence: 0.3 }
      return undefined
    }
    return pick(this.ownPrediction(remote), this.err, this.allowed)
  }

  estimateBetween (a: LatencyState, b: LatencyState, bId?: string): LatencyEstimate {
    if (bId !== undefined) {
      const s = a.samples.find(x => x.peer === bId)
      if (s !== undefined) return fromDigest(s)
    }
    const preds = { coord: distanceMs(a.coord, b.coord), factors: predictMs(a.factors, b.factors) }
    return pick(preds, { coord: a.err.coord, factors: a.err.factors, reverse: Infinity }, this.allowed)
  }

  direct (peerId: string): FilteredSample | undefined {
    return this.filter.get(peerId)
  }

  peers (): string[] {
    const ids = new Set(this.remotes.keys())
    for (const id of this.filter.peerIds()) ids.add(id)
    return [...ids]
  }

  forget (peerId: string): void {
    this.remotes.delete(peerId)
    this.filter.delete(peerId)
  }

  stats (): EstimatorStats {
    return {
      peersTracked: this.remotes.size,
      directPeers: this.filter.peerCount,
      probes: this.probes,
      clampedSamples: this.clamped,
      coordinateResets: this.vivaldi.resets,
      predictorError: { ...this.err }
    }
  }

  private ownPrediction (remote: LatencyState): { coord: number, factors: number, reverse?: number } {
    const coord = distanceMs(this.vivaldi.coordinate, remote.coord)
    const factors = this.factors.predictTo(remote.factors)
    const rev = remote.samples.find(s => s.peer === this.selfId)
    return { coord, factors, reverse: rev?.ms }
  }

  private track (p: Predictor, predicted: number, actual: number): void {
    const rel = Math.min(ERROR_CAP, Math.abs(predicted - actual) / actual)
    this.err[p] += ERROR_EWMA * (rel - this.err[p])
  }
}

/** A pair answered by a publisher's own direct median from its digest. */
export function fromDigest (s: DigestSample): LatencyEstimate {
  return { ms: s.ms, errorMs: 0.1 * s.ms, source: 'measured', confidence: 0.8 }
}

/** A direct answer: the filter's median, its half-range as the error bound. */
function measured (f: FilteredSample, filterSize: number): LatencyEstimate {
  const full = Math.min(1, f.count / filterSize)
  return { ms: f.medianMs, errorMs: f.spreadMs, source: 'measured', confidence: 0.5 + 0.45 * full }
}

function pick (preds: { coord: number, factors: number, reverse?: number }, err: Record<Predictor, number>, allowed: ReadonlySet<Predictor>): LatencyEstimate {
  let best: Predictor | undefined
  for (const p of ['coord', 'factors', 'reverse'] as const) {
    if (!allowed.has(p) || preds[p] === undefined) continue
    if (best === undefined || err[p] < err[best]) best = p
  }
  if (best === undefined) best = 'coord'
  const ms = preds[best] as number
  const rel = Math.min(ERROR_CAP, err[best])
  return { ms, errorMs: rel * ms, source: 'estimated', confidence: 1 / (1 + rel), predictor: best }
}

function posInt (x: number, field: string, max: number): number {
  if (!Number.isInteger(x) || x < 1 || x > max) throw new LatencyConfigError(field, `must be an integer in [1, ${max}], got ${x}`)
  return x
}

export function createLatencyEstimator (init: LatencyEstimatorInit): LatencyEstimator {
  return new Estimator(init)
}
