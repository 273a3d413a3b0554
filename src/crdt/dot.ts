/**
 * Dots: (replica, counter) pairs that name one event of one replica.
 */
import { compareStrings } from './atom.js'
import { CrdtArgumentError } from './errors.js'

export type ReplicaId = string

export interface Dot {
  readonly replica: ReplicaId
  /** 1-based sequence number of the event at `replica`. */
  readonly counter: number
}

/** Orders by replica id (UTF-16 code units), then counter. */
export function compareDots (a: Dot, b: Dot): number {
  return compareStrings(a.replica, b.replica) || a.counter - b.counter
}

export function assertReplicaId (replica: unknown, field = 'replica'): asserts replica is ReplicaId {
  if (typeof replica !== 'string' || replica.length === 0 || replica.length > 256) {
    throw new CrdtArgumentError(field, 'must be a non-empty string of at most 256 characters')
  }
}

export function assertCount (n: unknown, field: string): asserts n is number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw new CrdtArgumentError(field, 'must be a non-negative safe integer')
  }
}

export function assertSafeInteger (n: unknown, field: string): asserts n is number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) {
    throw new CrdtArgumentError(field, 'must be a safe integer')
  }
}
