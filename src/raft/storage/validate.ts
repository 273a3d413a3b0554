/**
 * Type guards for what crosses into the storage: entries, hard states and
 * snapshots may originate from the network, so each field is checked and a
 * bad one named in the error.
 */
import { EntryType } from '../core/types.js'
import type { ConfState, Entry, HardState, Snapshot } from '../core/types.js'
import { InvalidEntriesError } from './errors.js'

function isIndex (n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0
}

export function validateEntries (entries: unknown): asserts entries is Entry[] {
  if (!Array.isArray(entries)) throw new InvalidEntriesError('entries', 'must be an array')
  for (let k = 0; k < entries.length; k++) {
    const e = entries[k] as Partial<Entry> | null
    const f = `entries[${k}]`
    if (typeof e !== 'object' || e == null) throw new InvalidEntriesError(f, 'must be an object')
    if (!isIndex(e.index) || e.index < 1) throw new InvalidEntriesError(`${f}.index`, 'must be a safe integer >= 1')
    if (!isIndex(e.term) || e.term < 1) throw new InvalidEntriesError(`${f}.term`, 'must be a safe integer >= 1')
    if (e.type !== EntryType.Normal && e.type !== EntryType.ConfChange) throw new InvalidEntriesError(`${f}.type`, 'must be an EntryType')
    if (!(e.data instanceof Uint8Array)) throw new InvalidEntriesError(`${f}.data`, 'must be a Uint8Array')
    if (k > 0) {
      const prev = entries[k - 1] as Entry
      if (e.index !== prev.index + 1) throw new InvalidEntriesError(`${f}.index`, `must be ${prev.index + 1} (entries must be contiguous)`)
      if (e.term < prev.term) throw new InvalidEntriesError(`${f}.term`, `must not decrease (previous entry has term ${prev.term})`)
    }
  }
}

export function validateHardState (hs: unknown, field = 'hardState'): asserts hs is HardState {
  if (typeof hs !== 'object' || hs == null) throw new InvalidEntriesError(field, 'must be an object')
  const h = hs as Partial<HardState>
  if (!isIndex(h.term)) throw new InvalidEntriesError(`${field}.term`, 'must be a safe integer >= 0')
  if (!isIndex(h.commit)) throw new InvalidEntriesError(`${field}.commit`, 'must be a safe integer >= 0')
  if (typeof h.vote !== 'string') throw new InvalidEntriesError(`${field}.vote`, 'must be a string')
}

export function validateConfState (cs: unknown, field = 'confState'): asserts cs is ConfState {
  if (typeof cs !== 'object' || cs == null) throw new InvalidEntriesError(field, 'must be an object')
  const c = cs as Record<string, unknown>
  for (const k of ['voters', 'learners', 'votersOutgoing', 'learnersNext']) {
    const v = c[k]
    if (!Array.isArray(v) || !v.every(x => typeof x === 'string')) throw new InvalidEntriesError(`${field}.${k}`, 'must be an array of strings')
  }
  if (typeof c.autoLeave !== 'boolean') throw new InvalidEntriesError(`${field}.autoLeave`, 'must be a boolean')
}

export function validateSnapshot (snap: unknown): asserts snap is Snapshot {
  if (typeof snap !== 'object' || snap == null) throw new InvalidEntriesError('snapshot', 'must be an object')
  const s = snap as Partial<Snapshot>
  const m = s.metadata
  if (typeof m !== 'object' || m == null) throw new InvalidEntriesError('snapshot.metadata', 'must be an object')
  if (!isIndex(m.index) || m.index < 1) throw new InvalidEntriesError('snapshot.metadata.index', 'must be a safe integer >= 1')
  if (!isIndex(m.term) || m.term < 1) throw new InvalidEntriesError('snapshot.metadata.term', 'must be a safe integer >= 1')
  validateConfState(m.confState, 'snapshot.metadata.confState')
  if (!(s.data instanceof Uint8Array)) throw new InvalidEntriesError('snapshot.data', 'must be a Uint8Array')
}
