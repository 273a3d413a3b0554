/**
 * In-memory LogStorage (etcd MemoryStorage-like): the reference
 * implementation for tests and the simulator. Holds a dummy entry at index 0
 * of its array carrying the snapshot's (index, term).
 */
import { CompactedError, SnapshotOutOfDateError, UnavailableError } from './errors.js'
import { limitSize } from './raft-log.js'
import { emptyConfState, emptyHardState } from './types.js'
import type { ConfState, Entry, HardState, LogStorage, Snapshot } from './types.js'

function cloneConfState (cs: ConfState): ConfState {
  return {
    voters: [...cs.voters],
    learners: [...cs.learners],
    votersOutgoing: [...cs.votersOutgoing],
    learnersNext: [...cs.learnersNext],
    autoLeave: cs.autoLeave
  }
}

export class MemoryLogStorage implements LogStorage {
  private hardState: HardState = emptyHardState()
  private snap: Snapshot = { metadata: { index: 0, term: 0, confState: emptyConfState() }, data: new Uint8Array(0) }
  /** ents[0] is the dummy entry at the snapshot position */
  private ents: Entry[] = [{ index: 0, term: 0, type: 0, data: new Uint8Array(0) }]

  initialState (): { hardState: HardState, confState: ConfState } {
    return { hardState: { ...this.hardState }, confState: cloneConfState(this.snap.metadata.confState) }
  }

  setHardState (hs: HardState): void {
    this.hardState = { ...hs }
  }

  private offset (): number {
    return this.ents[0].index
  }

  entries (lo: number, hi: number, maxBytes?: number): Entry[] {
    const offset = this.offset()
    if (lo <= offset) throw new CompactedError()
    if (hi > this.lastIndex() + 1) throw new UnavailableError(`entries' hi(${hi}) is out of bound lastindex(${this.lastIndex()})`)
    if (lo >= hi) return []
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxBytes ?? Infinity)
  }

  term (i: number): number {
    const offset = this.offset()
    if (i < offset) throw new CompactedError()
    if (i - offset >= this.ents.length) throw new UnavailableError()
    return this.ents[i - offset].term
  }

  firstIndex (): number {
    return this.offset() + 1
  }

  lastIndex (): number {
    return this.offset() + this.ents.length - 1
  }

  snapshot (): Snapshot {
    return this.snap
  }

  /** Replaces the whole log with `snap` (a follower installing the leader's snapshot). */
  applySnapshot (snap: Snapshot): void {
    if (snap.metadata.index <= this.snap.metadata.index) throw new SnapshotOutOfDateError()
    this.snap = { metadata: { ...snap.metadata, confState: cloneConfState(snap.metadata.confState) }, data: snap.data }
    this.ents = [{ index: snap.metadata.index, term: snap.metadata.term, type: 0, data: new Uint8Array(0) }]
  }

  /** Records a snapshot of the applied state at `index` (entries stay until compact()). */
  createSnapshot (index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.metadata.index) throw new SnapshotOutOfDateError()
    if (index > this.lastIndex()) throw new UnavailableError(`snapshot ${index} is out of bound lastindex(${this.lastIndex()})`)
    const term = this.ents[index - this.offset()].term
    this.snap = { metadata: { index, term, confState: cloneConfState(confState) }, data }
    return this.snap
  }

  /** Discards entries before `compactIndex` (which becomes the dummy entry). */
  compact (compactIndex: number): void {
    const offset = this.offset()
    if (compactIndex <= offset) throw new CompactedError()
    if (compactIndex > this.lastIndex()) throw new UnavailableError(`compact ${compactIndex} is out of bound lastindex(${this.lastIndex()})`)
    const i = compactIndex - offset
    const dummy: Entry = { index: this.ents[i].index, term: this.ents[i].term, type: 0, data: new Uint8Array(0) }
    this.ents = [dummy, ...this.ents.slice(i + 1)]
  }

  /** Appends entries, truncating any existing conflicting suffix. Entries must be contiguous. */
  append (entries: Entry[]): void {
    if (entries.length === 0) return
    const first = this.firstIndex()
    const last = entries[0].index + entries.length - 1
    if (last < first) return
    let ents = entries
    if (first > ents[0].index) ents = ents.slice(first - ents[0].index)
    const offset = ents[0].index - this.offset()
    if (this.ents.length >= offset) {
      // truncate any conflicting suffix in place, then append (amortized O(new entries))
      this.ents.length = offset
      for (const e of ents) this.ents.push(e)
    } else {
      throw new UnavailableError(`missing log entry [last: ${this.lastIndex()}, append at: ${ents[0].index}]`)
    }
  }
}
