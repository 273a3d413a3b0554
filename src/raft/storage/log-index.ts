/**
 * In-memory index of the retained log: per entry its term, type and where its
 * data lies on disk; the data itself is cached only for the newest entries,
 * up to a byte budget, and read back from the segment file otherwise. Pure
 * bookkeeping apart from the injected read-through.
 *
 * Layout: a dummy entry at `dummyIndex` (the compaction point, term known)
 * followed by `slots[k]` for index dummyIndex + 1 + k.
 */
import { CompactedError, UnavailableError } from '../core/errors.js'
import type { Entry, EntryType } from '../core/types.js'

/** where an entry's data can be read back from */
export interface DataSource {
  read (offset: number, length: number): Uint8Array
}

export interface Slot {
  term: number
  type: EntryType
  source: DataSource
  /** offset and length of the data in `source` */
  offset: number
  length: number
  /** cached data (only for the newest entries) */
  data?: Uint8Array
}

export class LogIndex {
  dummyIndex = 0
  dummyTerm = 0
  private slots: Slot[] = []
  /** absolute index of the oldest slot whose data is cached */
  private cacheFrom = 1
  private cached = 0

  /** opens entry data read back from disk (encryption at rest); none = stored in clear */
  opener?: (sealed: Uint8Array, index: number, term: number) => Uint8Array
  /** bytes sealing adds to each stored entry (0 in clear) */
  sealedOverhead = 0

  constructor (private readonly cacheLimit: number) {}

  private readData (s: { source: { read: (offset: number, length: number) => Uint8Array }, offset: number, length: number, term: number }, index: number): Uint8Array {
    const bytes = s.source.read(s.offset, s.length)
    return this.opener === undefined ? bytes : this.opener(bytes, index, s.term)
  }

  firstIndex (): number { return this.dummyIndex + 1 }
  lastIndex (): number { return this.dummyIndex + this.slots.length }
  get cachedBytes (): number { return this.cached }

  term (i: number): number {
    if (i < this.dummyIndex) throw new CompactedError(`index ${i} is compacted (first index ${this.firstIndex()})`)
    if (i === this.dummyIndex) return this.dummyTerm
    if (i > this.lastIndex()) throw new UnavailableError(`index ${i} is beyond the last index ${this.lastIndex()}`)
    return this.slots[i - this.dummyIndex - 1].term
  }

  entries (lo: number, hi: number, maxBytes = Infinity): Entry[] {
    if (lo <= this.dummyIndex) throw new CompactedError(`index ${lo} is compacted (first index ${this.firstIndex()})`)
    if (hi > this.lastIndex() + 1) throw new UnavailableError(`entries [${lo}, ${hi}) reach beyond the last index ${this.lastIndex()}`)
    if (lo >= hi) return []
    // like the core's limitSize: a limit <= 0 (or none) means unlimited
    if (!(maxBytes > 0)) maxBytes = Infinity
    const out: Entry[] = []
    let bytes = 0
    for (let i = lo; i < hi; i++) {
      const s = this.slots[i - this.dummyIndex - 1]
      const size = s.length - this.sealedOverhead
      if (out.length > 0 && bytes + size > maxBytes) break
      bytes += size
      out.push({ term: s.term, index: i, type: s.type, data: s.data ?? this.readData(s, i) })
    }
    return out
  }

  /** drop every entry after `i` (dummyIndex <= i <= lastIndex) */
  truncateAfter (i: number): void {
    const keep = i - this.dummyIndex
    for (let k = keep; k < this.slots.length; k++) this.cached -= this.slots[k].data?.length ?? 0
    this.slots.length = keep
    if (this.cacheFrom > i + 1) this.cacheFrom = i + 1
  }

  /** append the entry at lastIndex + 1 */
  push (slot: Slot): void {
    if (slot.data != null) {
      // cached data must be a suffix of the log
      if (this.cacheFrom > this.lastIndex() + 1) this.cacheFrom = this.lastIndex() + 1
      this.cached += slot.data.length
    } else {
      this.cacheFrom = this.lastIndex() + 2
    }
    this.slots.push(slot)
  }

  /** drop entries <= i (dummyIndex < i <= lastIndex); i becomes the dummy */
  compact (i: number): void {
    const n = i - this.dummyIndex
    const dropped = this.slots.splice(0, n)
    for (const s of dropped) this.cached -= s.data?.length ?? 0
    this.dummyTerm = dropped[dropped.length - 1].term
    this.dummyIndex = i
    if (this.cacheFrom < i + 1) this.cacheFrom = i + 1
  }

  /** replace the whole log by a dummy at (index, term) */
  reset (index: number, term: number): void {
    this.slots = []
    this.cached = 0
    this.dummyIndex = index
    this.dummyTerm = term
    this.cacheFrom = index + 1
  }

  /** forget cached data, oldest first, until within the budget */
  evict (): void {
    while (this.cached > this.cacheLimit && this.cacheFrom <= this.lastIndex()) {
      const s = this.slots[this.cacheFrom - this.dummyIndex - 1]
      this.cached -= s.data?.length ?? 0
      s.data = undefined
      this.cacheFrom++
    }
  }
}
