/**
 * DurableLogStorage over the core's in-memory MemoryLogStorage: lets a Raft
 * driver be written once against DurableLogStorage and run on memory in
 * tests and simulations (nothing survives the process; "durable" here means
 * only that the interface is the same).
 */
import type { AbortOptions } from '@libp2p/interface'
import { MemoryLogStorage } from '../core/memory-storage.js'
import type { ConfState, Entry, HardState, Snapshot } from '../core/types.js'
import { StorageClosedError } from './errors.js'
import type { DurableLogStorage, WriteOptions } from './index.js'
import { validateConfState, validateEntries, validateHardState, validateSnapshot } from './validate.js'

export class MemoryDurableLogStorage implements DurableLogStorage {
  private closed = false

  constructor (readonly memory: MemoryLogStorage = new MemoryLogStorage()) {}

  initialState (): { hardState: HardState, confState: ConfState } { return this.memory.initialState() }
  entries (lo: number, hi: number, maxBytes?: number): Entry[] { return this.memory.entries(lo, hi, maxBytes) }
  term (i: number): number { return this.memory.term(i) }
  firstIndex (): number { return this.memory.firstIndex() }
  lastIndex (): number { return this.memory.lastIndex() }
  snapshot (): Snapshot { return this.memory.snapshot() }

  private check (options: AbortOptions): void {
    if (this.closed) throw new StorageClosedError()
    options.signal?.throwIfAborted()
  }

  async append (entries: Entry[], hardState?: HardState, options: WriteOptions = {}): Promise<void> {
    this.check(options)
    validateEntries(entries)
    if (hardState != null) validateHardState(hardState)
    this.memory.append(entries.map(e => ({ ...e, data: e.data.slice() })))
    if (hardState != null) this.memory.setHardState(hardState)
  }

  async setHardState (hs: HardState, options: WriteOptions = {}): Promise<void> {
    this.check(options)
    validateHardState(hs)
    this.memory.setHardState(hs)
  }

  async applySnapshot (snap: Snapshot, hardState?: HardState, options: AbortOptions = {}): Promise<void> {
    this.check(options)
    validateSnapshot(snap)
    if (hardState != null) validateHardState(hardState)
    this.memory.applySnapshot({ metadata: snap.metadata, data: snap.data.slice() })
    if (hardState != null) this.memory.setHardState(hardState)
  }

  async createSnapshot (index: number, confState: ConfState, data: Uint8Array, options: AbortOptions = {}): Promise<Snapshot> {
    this.check(options)
    validateConfState(confState)
    return this.memory.createSnapshot(index, confState, data.slice())
  }

  async compact (index: number, options: AbortOptions = {}): Promise<void> {
    this.check(options)
    this.memory.compact(index)
  }

  async close (): Promise<void> {
    this.closed = true
  }
}
