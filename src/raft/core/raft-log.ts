/**
 * The node's view of its log: stable entries in LogStorage plus the unstable
 * tail, with the committed and applied indexes.
 */
import { CompactedError, UnavailableError } from './errors.js'
import type { Entry, LogStorage, Snapshot } from './types.js'
import { Unstable } from './unstable.js'

export function entsSize (ents: Entry[]): number {
  let n = 0
  for (const e of ents) n += e.data.byteLength
  return n
}

/** Keeps a prefix of `ents` of at most maxBytes of data, but at least one entry. */
export function limitSize (ents: Entry[], maxBytes: number): Entry[] {
  if (ents.length === 0 || maxBytes <= 0 || !Number.isFinite(maxBytes)) return ents
  let size = ents[0].data.byteLength
  let n = 1
  while (n < ents.length) {
    size += ents[n].data.byteLength
    if (size > maxBytes) break
    n++
  }
  return ents.slice(0, n)
}

export class RaftLog {
  readonly unstable: Unstable
  committed: number
  applied: number
  /** highest index handed to the application in a Ready but not yet advanced */
  applying: number

  constructor (readonly storage: LogStorage, applied?: number) {
    const first = storage.firstIndex()
    const last = storage.lastIndex()
    this.unstable = new Unstable(last + 1)
    this.committed = first - 1
    this.applied = first - 1
    this.applying = first - 1
    if (applied !== undefined && applied > this.applied) {
      this.applied = applied
      this.applying = applied
    }
  }

  firstIndex (): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex()
  }

  lastIndex (): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex()
  }

  /** term of entry i; throws CompactedError/UnavailableError when outside [firstIndex-1, lastIndex] */
  term (i: number): number {
    const t = this.unstable.maybeTerm(i)
    if (t !== undefined) return t
    if (i + 1 < this.firstIndex()) throw new CompactedError()
    if (i > this.lastIndex()) throw new UnavailableError()
    return this.storage.term(i)
  }

  /** term of entry i, undefined when it is compacted or unavailable (no exception on the hot path) */
  termIfAvailable (i: number): number | undefined {
    const t = this.unstable.maybeTerm(i)
    if (t !== undefined) return t
    if (i + 1 < this.firstIndex() || i > this.lastIndex()) return undefined
    try {
      return this.storage.term(i)
    } catch (err) {
      if (err instanceof CompactedError || err instanceof UnavailableError) return undefined
      throw err
    }
  }

  /** term of entry i, 0 when it is compacted or unavailable */
  termOrZero (i: number): number {
    return this.termIfAvailable(i) ?? 0
  }

  lastTerm (): number {
    return this.term(this.lastIndex())
  }

  matchTerm (i: number, t: number): boolean {
    return this.termIfAvailable(i) === t
  }

  /** Raft §5.4.1: a candidate's log is at least as up-to-date as ours. */
  isUpToDate (lasti: number, term: number): boolean {
    const lt = this.lastTerm()
    return term > lt || (term === lt && lasti >= this.lastIndex())
  }

  /** Appends entries following (index, logTerm) from a leader; returns the new last index or undefined on mismatch. */
  maybeAppend (index: number, logTerm: number, committed: number, ents: Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined
    const lastNew = index + ents.length
    const ci = this.findConflict(ents)
    if (ci !== 0) {
      if (ci <= this.committed) throw new Error(`entry ${ci} conflicts with committed entry (committed ${this.committed})`)
      this.append(ents.slice(ci - (index + 1)))
    }
    this.commitTo(Math.min(committed, lastNew))
    return lastNew
  }

  append (ents: Entry[]): number {
    if (ents.length === 0) return this.lastIndex()
    const after = ents[0].index - 1
    if (after < this.committed) throw new Error(`append after ${after} is out of range [committed(${this.committed})]`)
    this.unstable.truncateAndAppend(ents)
    return this.lastIndex()
  }

  /** index of the first entry that conflicts with (or is missing from) our log; 0 when all match */
  findConflict (ents: Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index
    }
    return 0
  }

  /**
   * The largest (index, term) with index <= `index` whose term is <= `term`:
   * the fast back-off hint of a rejected append.
   */
  findConflictByTerm (index: number, term: number): { index: number, term: number } {
    for (; index > 0; index--) {
      const t = this.termIfAvailable(index)
      if (t === undefined) return { index, term: 0 }
      if (t <= term) return { index, term: t }
    }
    return { index: 0, term: 0 }
  }

  commitTo (toCommit: number): void {
    if (this.committed < toCommit) {
      if (this.lastIndex() < toCommit) throw new Error(`tocommit(${toCommit}) is out of range [lastIndex(${this.lastIndex()})]`)
      this.committed = toCommit
    }
  }

  /** Leader commit rule: only entries of the current term commit by counting. */
  maybeCommit (maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.termOrZero(maxIndex) === term) {
      this.commitTo(maxIndex)
      return true
    }
    return false
  }

  appliedTo (i: number): void {
    if (i === 0) return
    if (this.committed < i || i < this.applied) throw new Error(`applied(${i}) is out of range [prevApplied(${this.applied}), committed(${this.committed})]`)
    this.applied = i
    if (this.applying < i) this.applying = i
  }

  hasPendingSnapshot (): boolean {
    return this.unstable.snapshot !== undefined
  }

  hasNextCommittedEnts (): boolean {
    if (this.hasPendingSnapshot()) return false
    return this.committed > this.applying
  }

  /** committed entries not yet handed out for applying */
  nextCommittedEnts (maxBytes: number): Entry[] {
    if (!this.hasNextCommittedEnts()) return []
    return this.slice(this.applying + 1, this.committed + 1, maxBytes)
  }

  /** entries from i to the end, at most maxBytes */
  entriesFrom (i: number, maxBytes: number): Entry[] {
    if (i > this.lastIndex()) return []
    return this.slice(i, this.lastIndex() + 1, maxBytes)
  }

  /** entries [lo, hi) limited to maxBytes (at least one); throws CompactedError below firstIndex */
  slice (lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo === hi) return []
    const fi = this.firstIndex()
    if (lo < fi) throw new CompactedError()
    if (hi > this.lastIndex() + 1) throw new Error(`slice[${lo},${hi}) out of bound [${fi},${this.lastIndex()}]`)
    let ents: Entry[] = []
    const uo = this.unstable.offset
    if (lo < uo) {
      const stored = this.storage.entries(lo, Math.min(hi, uo), maxBytes)
      // storage may return fewer entries because of the size limit
      if (stored.length < Math.min(hi, uo) - lo) return stored
      ents = stored
    }
    if (hi > uo) {
      ents = ents.concat(this.unstable.slice(Math.max(lo, uo), hi))
    }
    return limitSize(ents, maxBytes)
  }

  snapshot (): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot()
  }

  restore (s: Snapshot): void {
    this.committed = s.metadata.index
    this.unstable.restore(s)
  }

  /** every entry from firstIndex to lastIndex (for tests and debugging) */
  allEntries (): Entry[] {
    return this.slice(this.firstIndex(), this.lastIndex() + 1, Infinity)
  }
}
