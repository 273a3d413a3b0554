/**
 * Typed errors of the CRDT library. Callers match on `name` / `code`,
 * never on message text.
 */

/** Why a byte string was rejected by the codec. */
export type CrdtDecodeReason =
  | 'NOT_BYTES'
  | 'TOO_LARGE'
  | 'TRUNCATED'
  | 'VARINT_OVERFLOW'
  | 'NON_CANONICAL'
  | 'UNSUPPORTED_VERSION'
  | 'UNKNOWN_TYPE'
  | 'LIMIT_EXCEEDED'
  | 'DEPTH_EXCEEDED'
  | 'INVALID_UTF8'
  | 'NOT_SORTED'
  | 'INVALID_VALUE'
  | 'INVALID_STATE'
  | 'TRAILING_BYTES'

/** Raised by the codec for any malformed, oversized or truncated input, and only by it. */
export class CrdtDecodeError extends Error {
  override readonly name = 'CrdtDecodeError'
  readonly code = 'CRDT_DECODE_ERROR'
  readonly reason: CrdtDecodeReason
  /** Byte offset where decoding stopped. */
  readonly offset: number
  /** Which field was being read, e.g. `ctx.vv.counter`. */
  readonly field: string

  constructor (reason: CrdtDecodeReason, field: string, offset: number, detail?: string) {
    super(`cannot decode CRDT: ${reason} at ${field} (offset ${offset})${detail != null ? `: ${detail}` : ''}`)
    this.reason = reason
    this.field = field
    this.offset = offset
  }
}

/** A mutator or helper was called with an argument it cannot accept. */
export class CrdtArgumentError extends Error {
  override readonly name = 'CrdtArgumentError'
  readonly code = 'CRDT_INVALID_ARGUMENT'
  readonly field: string

  constructor (field: string, message: string) {
    super(`${field}: ${message}`)
    this.field = field
  }
}

/** Two states of different CRDT types (or ORMap value types) were combined. */
export class CrdtTypeMismatchError extends Error {
  override readonly name = 'CrdtTypeMismatchError'
  readonly code = 'CRDT_TYPE_MISMATCH'
  readonly expected: string
  readonly actual: string

  constructor (expected: string, actual: string) {
    super(`CRDT type mismatch: expected ${expected}, got ${actual}`)
    this.expected = expected
    this.actual = actual
  }
}

/** A remote hybrid-logical-clock reading is further in the future than allowed. */
export class HlcDriftError extends Error {
  override readonly name = 'HlcDriftError'
  readonly code = 'HLC_CLOCK_DRIFT'
  readonly driftMs: number

  constructor (driftMs: number, maxDriftMs: number) {
    super(`remote clock is ${driftMs} ms ahead, more than the allowed ${maxDriftMs} ms`)
    this.driftMs = driftMs
  }
}
