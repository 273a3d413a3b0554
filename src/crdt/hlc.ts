/**
 * Hybrid logical clock (Kulkarni et al., 2014) as a pure module: the caller
 * passes the physical time in (`nowMs`), nothing here reads a clock.
 *
 * A reading is (wall, logical): wall is the largest physical time seen,
 * logical orders events that share a wall value. Readings only grow, stay
 * close to physical time, and respect causality across send/receive.
 */
import { assertCount } from './dot.js'
import { HlcDriftError } from './errors.js'

export interface Hlc {
  readonly wall: number
  readonly logical: number
}

export const HLC_ZERO: Hlc = Object.freeze({ wall: 0, logical: 0 })

export function compareHlc (a: Hlc, b: Hlc): number {
  return a.wall - b.wall || a.logical - b.logical
}

export function assertHlc (h: unknown, field = 'timestamp'): asserts h is Hlc {
  const v = h as Hlc
  assertCount(v?.wall, `${field}.wall`)
  assertCount(v?.logical, `${field}.logical`)
}

/** The reading for a local event or a send at physical time `nowMs`. */
export function hlcTick (local: Hlc, nowMs: number): Hlc {
  assertCount(nowMs, 'nowMs')
  if (nowMs > local.wall) return { wall: nowMs, logical: 0 }
  return { wall: local.wall, logical: local.logical + 1 }
}

export interface HlcReceiveOptions {
  /** Reject remote readings more than this far ahead of `nowMs` (default: no bound). */
  maxDriftMs?: number
}

/** The reading after receiving `remote` at physical time `nowMs`. Throws HlcDriftError when `remote` is too far ahead. */
export function hlcReceive (local: Hlc, remote: Hlc, nowMs: number, options: HlcReceiveOptions = {}): Hlc {
  assertCount(nowMs, 'nowMs')
  assertHlc(remote, 'remote')
  if (options.maxDriftMs != null && remote.wall - nowMs > options.maxDriftMs) {
    throw new HlcDriftError(remote.wall - nowMs, options.maxDriftMs)
  }
  const wall = Math.max(local.wall, remote.wall, nowMs)
  let logical: number
  if (wall === local.wall && wall === remote.wall) logical = Math.max(local.logical, remote.logical) + 1
  else if (wall === local.wall) logical = local.logical + 1
  else if (wall === remote.wall) logical = remote.logical + 1
  else logical = 0
  return { wall, logical }
}
