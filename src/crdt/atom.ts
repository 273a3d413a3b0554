/**
 * Atoms: the opaque values stored in registers and sets (text or bytes).
 * A total, deterministic order on atoms makes value() output and
 * tie-breaks independent of insertion order.
 */
import { CrdtArgumentError } from './errors.js'

export type Atom = string | Uint8Array

/** Total order: every string sorts before every byte string; strings by UTF-16 code units, bytes lexicographically. */
export function compareAtoms (a: Atom, b: Atom): number {
  if (typeof a === 'string') {
    if (typeof b !== 'string') return -1
    return compareStrings(a, b)
  }
  if (typeof b === 'string') return 1
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i]
  }
  return a.length - b.length
}

export function compareStrings (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** A string usable as a Map key that identifies the atom (type-prefixed). */
export function atomKey (a: Atom): string {
  if (typeof a === 'string') return 's' + a
  let hex = 'b'
  for (const byte of a) hex += byte.toString(16).padStart(2, '0')
  return hex
}

export function assertAtom (a: unknown, field: string): asserts a is Atom {
  if (typeof a !== 'string' && !(a instanceof Uint8Array)) {
    throw new CrdtArgumentError(field, 'must be a string or a Uint8Array')
  }
}
