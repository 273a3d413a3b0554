/**
 * The state a peer publishes on `dcis/latency/1`, and its validation.
 *
 * Everything in it is small and bounded: a Vivaldi coordinate, the factor
 * vectors, the peer's running error figures and a digest of at most
 * `maxDigest` of its direct RTT medians. Whatever arrives by gossip goes
 * through validateRemoteState() before any number of it is used.
 */
import type { Coordinate } from './vivaldi.js'
import type { FactorState } from './factors.js'

export const LATENCY_STATE_VERSION = 1

export interface DigestSample {
  /** the probed peer's id (as text) */
  peer: string
  /** median of the publisher's recent direct RTTs to it (ms) */
  ms: number
  /** how many samples the publisher has taken of it so far (grows with each probe) */
  n: number
}

export interface LatencyState {
  v: typeof LATENCY_STATE_VERSION
  coord: Coordinate
  factors: FactorState
  /** the publisher's running relative errors: Vivaldi and factor predictions on its own fresh probes */
  err: { coord: number, factors: number }
  samples: DigestSample[]
}

export interface StateLimits {
  dimensions: number
  rank: number
  maxDigest: number
  maxRttMs: number
  /** bound on |coordinate component|, height and |adjustment| (ms) */
  maxCoordMs: number
  /** bound on |factor component| and |bias| */
  maxFactor: number
  /** longest accepted peer id in a digest */
  maxPeerIdLength: number
}

export type RemoteStateRejection =
  | 'NOT_OBJECT'
  | 'BAD_VERSION'
  | 'MISSING_FIELD'
  | 'WRONG_TYPE'
  | 'WRONG_DIMENSIONS'
  | 'NOT_FINITE'
  | 'OUT_OF_RANGE'
  | 'TOO_MANY_SAMPLES'
  | 'UNKNOWN_FIELD'

export type RemoteStateCheck =
  | { ok: true, state: LatencyState }
  | { ok: false, code: RemoteStateRejection, field: string, message: string }

class Reject extends Error {
  constructor (readonly code: RemoteStateRejection, readonly field: string, message: string) {
    super(message)
  }
}

function obj (x: unknown, field: string, keys: readonly string[]): Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new Reject(field === '' ? 'NOT_OBJECT' : 'WRONG_TYPE', field === '' ? '(state)' : field, 'must be an object')
  const o = x as Record<string, unknown>
  for (const k of Object.keys(o)) {
    if (!keys.includes(k)) throw new Reject('UNKNOWN_FIELD', field === '' ? k : `${field}.${k}`, 'is not a known field')
  }
  for (const k of keys) {
    if (!(k in o)) throw new Reject('MISSING_FIELD', field === '' ? k : `${field}.${k}`, 'is required')
  }
  return o
}

function num (x: unknown, field: string, min: number, max: number): number {
  if (typeof x !== 'number') throw new Reject('WRONG_TYPE', field, 'must be a number')
  if (!Number.isFinite(x)) throw new Reject('NOT_FINITE', field, `must be finite, got ${x}`)
  if (x < min || x > max) throw new Reject('OUT_OF_RANGE', field, `must be within [${min}, ${max}], got ${x}`)
  return x
}

function vec (x: unknown, field: string, length: number, bound: number): number[] {
  if (!Array.isArray(x)) throw new Reject('WRONG_TYPE', field, 'must be an array of numbers')
  if (x.length !== length) throw new Reject('WRONG_DIMENSIONS', field, `must have ${length} components, got ${x.length}`)
  return x.map((v, i) => num(v, `${field}[${i}]`, -bound, bound))
}

/** Check an untrusted value (e.g. a decoded gossip message) against the limits; never throws. */
export function validateRemoteState (input: unknown, limits: StateLimits): RemoteStateCheck {
  try {
    const o = obj(input, '', ['v', 'coord', 'factors', 'err', 'samples'])
    if (o.v !== LATENCY_STATE_VERSION) throw new Reject('BAD_VERSION', 'v', `must be ${LATENCY_STATE_VERSION}`)
    const c = obj(o.coord, 'coord', ['vec', 'height', 'adjustment', 'error'])
    const coord: Coordinate = {
      vec: vec(c.vec, 'coord.vec', limits.dimensions, limits.maxCoordMs),
      height: num(c.height, 'coord.height', 0, limits.maxCoordMs),
      adjustment: num(c.adjustment, 'coord.adjustment', -limits.maxCoordMs, limits.maxCoordMs),
      error: num(c.error, 'coord.error', 0, 1e3)
    }
    const f = obj(o.factors, 'factors', ['outBias', 'out', 'inBias', 'in'])
    const factors: FactorState = {
      outBias: num(f.outBias, 'factors.outBias', -limits.maxFactor, limits.maxFactor),
      out: vec(f.out, 'factors.out', limits.rank, limits.maxFactor),
      inBias: num(f.inBias, 'factors.inBias', -limits.maxFactor, limits.maxFactor),
      in: vec(f.in, 'factors.in', limits.rank, limits.maxFactor)
    }
    const e = obj(o.err, 'err', ['coord', 'factors'])
    const err = { coord: num(e.coord, 'err.coord', 0, 1e3), factors: num(e.factors, 'err.factors', 0, 1e3) }
    if (!Array.isArray(o.samples)) throw new Reject('WRONG_TYPE', 'samples', 'must be an array')
    if (o.samples.length > limits.maxDigest) throw new Reject('TOO_MANY_SAMPLES', 'samples', `at most ${limits.maxDigest} samples, got ${o.samples.length}`)
    const samples = o.samples.map((s, i): DigestSample => {
      const so = obj(s, `samples[${i}]`, ['peer', 'ms', 'n'])
      if (typeof so.peer !== 'string' || so.peer.length === 0 || so.peer.length > limits.maxPeerIdLength) {
        throw new Reject('WRONG_TYPE', `samples[${i}].peer`, `must be a peer id of 1..${limits.maxPeerIdLength} characters`)
      }
      const ms = num(so.ms, `samples[${i}].ms`, 0, limits.maxRttMs)
      if (ms === 0) throw new Reject('OUT_OF_RANGE', `samples[${i}].ms`, 'must be > 0')
      const n = num(so.n, `samples[${i}].n`, 1, 2 ** 31)
      if (!Number.isInteger(n)) throw new Reject('WRONG_TYPE', `samples[${i}].n`, 'must be an integer')
      return { peer: so.peer, ms, n }
    })
    return { ok: true, state: { v: LATENCY_STATE_VERSION, coord, factors, err, samples } }
  } catch (err) {
    if (err instanceof Reject) return { ok: false, code: err.code, field: err.field, message: `${err.field}: ${err.message}` }
    throw err
  }
}

/**
 * A publisher's digest merged into what was heard from it before: the new
 * samples first, then the earlier ones it did not repeat, at most `max`.
 * Publishers send only the medians measured since their last message (see
 * LatencyEstimator.publicState), so a receiver keeps the rest of the
 * publisher's view from earlier messages; the oldest fall off the end.
 */
export function mergeDigest (next: readonly DigestSample[], prev: readonly DigestSample[], max: number): DigestSample[] {
  const out = next.slice(0, max)
  if (out.length >= max || prev.length === 0) return out
  const seen = new Set(out.map(s => s.peer))
  for (const s of prev) {
    if (out.length >= max) break
    if (!seen.has(s.peer)) out.push(s)
  }
  return out
}

/**
 * The state as it goes on the wire: milliseconds to the microsecond and
 * factors and errors to four decimals (a float's 17 digits were more than
 * half of a message's bytes and carried nothing a prediction uses).
 */
export function compactState (state: LatencyState): LatencyState {
  const ms = (x: number): number => Math.round(x * 1e3) / 1e3
  const f4 = (x: number): number => Math.round(x * 1e4) / 1e4
  const { coord, factors, err } = state
  return {
    v: state.v,
    coord: { vec: coord.vec.map(ms), height: ms(coord.height), adjustment: ms(coord.adjustment), error: f4(coord.error) },
    factors: { outBias: f4(factors.outBias), out: factors.out.map(f4), inBias: f4(factors.inBias), in: factors.in.map(f4) },
    err: { coord: f4(err.coord), factors: f4(err.factors) },
    // a sample is > 0 by validation: the smallest RTT stays one microsecond
    samples: state.samples.map(s => ({ peer: s.peer, ms: Math.max(1e-3, ms(s.ms)), n: s.n }))
  }
}
