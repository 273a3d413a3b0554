/**
 * The tail of the log not yet persisted by the driver: an optional incoming
 * snapshot followed by entries starting at `offset`.
 */
import type { Entry, Snapshot } from './types.js'

export class Unstable {
  snapshot: Snapshot | undefined
  entries: Entry[] = []
  offset: number
  /**
   * entries from `offset` up to here were handed to the driver, which is
   * writing them (leaderPersistsAsync: the leader's Ready does not wait for
   * its write); they stay here, readable, until stableTo. Always >= offset.
   */
  offsetInProgress: number

  constructor (offset: number) {
    this.offset = offset
    this.offsetInProgress = offset
  }

  /** whether some entries were not yet handed to the driver for writing */
  hasEntriesToPersist (): boolean {
    return this.offsetInProgress < this.offset + this.entries.length
  }

  /** the entries not yet handed to the driver for writing */
  entriesToPersist (): Entry[] {
    return this.entries.slice(this.offsetInProgress - this.offset)
  }

  /** the driver is writing the entries up to (i, t): not handed out again; no-op if they were replaced meanwhile */
  markInProgress (i: number, t: number): void {
    if (this.maybeTerm(i) !== t || i < this.offset) return
    this.offsetInProgress = Math.max(this.offsetInProgress, i + 1)
  }

  maybeFirstIndex (): number | undefined {
    return this.snapshot !== undefined ? this.snapshot.metadata.index + 1 : undefined
  }

  maybeLastIndex (): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1
    if (this.snapshot !== undefined) return this.snapshot.metadata.index
    return undefined
  }

  maybeTerm (i: number): number | undefined {
    if (i < this.offset) {
      if (this.snapshot !== undefined && this.snapshot.metadata.index === i) return this.snapshot.metadata.term
      return undefined
    }
    const last = this.maybeLastIndex()
    if (last === undefined || i > last) return undefined
    return this.entries[i - this.offset].term
  }

  /** The driver persisted entries up to (i, t): drop them unless they were replaced meanwhile. */
  stableTo (i: number, t: number): void {
    const gt = this.maybeTerm(i)
    if (gt === undefined || gt !== t || i < this.offset) return
    this.entries = this.entries.slice(i + 1 - this.offset)
    this.offset = i + 1
    this.offsetInProgress = Math.max(this.offsetInProgress, this.offset)
  }

  stableSnapTo (i: number): void {
    if (this.snapshot !== undefined && this.snapshot.metadata.index === i) this.snapshot = undefined
  }

  restore (s: Snapshot): void {
    this.offset = s.metadata.index + 1
    this.offsetInProgress = this.offset
    this.entries = []
    this.snapshot = s
  }

  truncateAndAppend (ents: Entry[]): void {
    if (ents.length === 0) return
    const after = ents[0].index
    if (after === this.offset + this.entries.length) {
      this.entries = this.entries.concat(ents)
    } else if (after <= this.offset) {
      // replace everything unstable; the driver overwrites storage from `after`
      this.offset = after
      this.offsetInProgress = after
      this.entries = ents.slice()
    } else {
      this.entries = this.entries.slice(0, after - this.offset).concat(ents)
      // the replaced tail must be written again (over whatever write was in progress)
      this.offsetInProgress = Math.min(this.offsetInProgress, after)
    }
  }

  /** entries in [lo, hi) that are unstable */
  slice (lo: number, hi: number): Entry[] {
    return this.entries.slice(lo - this.offset, hi - this.offset)
  }
}
