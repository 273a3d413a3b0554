/**
 * Delta buffer for delta-based anti-entropy (Almeida et al., Algorithm 2)
 * with the two optimisations of Enes et al., "Efficient Synchronization of
 * State-based CRDTs" (ICDE'19):
 *
 *  - RR (remove redundant state): a received delta is reduced to the part
 *    that inflates the local state before it is buffered; if nothing is new
 *    it is not buffered at all, so it is not forwarded again.
 *  - BP (avoid back-propagation): each buffered delta remembers its origin
 *    and is never sent back to it.
 *
 * Memory is bounded (entries and bytes). Entries every neighbour has
 * acknowledged are dropped; when the bound forces dropping entries a
 * neighbour has not acknowledged, that neighbour gets the full state next.
 *
 * The buffer owns its bookkeeping but not the CRDT state: callers pass the
 * current state in. It is deterministic and does no I/O.
 */
import { encodedSize } from './codec.js'
import type { DeltaGroup } from './codec.js'
import { join } from './crdt.js'
import type { Crdt } from './crdt.js'
import { extractNew, isEmptyDelta } from './digest.js'
import { CrdtArgumentError } from './errors.js'

export interface DeltaBufferInit<T extends Crdt> {
  /** Most deltas kept (default 1024). */
  readonly maxEntries?: number
  /** Most bytes kept, as measured by `sizeOf` (default 4 MiB). */
  readonly maxBytes?: number
  /** Size of a delta in bytes (default: its encoded size). */
  readonly sizeOf?: (delta: T) => number
  /** BP: never send a delta back to its origin (default true; off only for comparisons). */
  readonly avoidBackPropagation?: boolean
  /** RR: buffer only the novel part of received deltas (default true; off only for comparisons). */
  readonly removeRedundant?: boolean
}

interface Entry<T> {
  readonly seq: number
  readonly delta: T
  readonly origin: string | null
  readonly bytes: number
}

interface Neighbour {
  /** Highest sequence number it has acknowledged. */
  acked: number
  /** It must get the full state (new neighbour, or its deltas were evicted). */
  needsFull: boolean
  /** Sequence number of the first full state sent since it needed one (-1: none yet). */
  fullSeq: number
}

export interface DeltaBufferStats {
  readonly entries: number
  readonly bytes: number
  readonly neighbours: number
  readonly lastSeq: number
  /** Received deltas dropped as fully redundant (RR). */
  readonly redundantDropped: number
  /** Entries evicted by the memory bound before every neighbour had them. */
  readonly evicted: number
}

/**
 * Whether neighbour `id` still needs entry `e`. A neighbour waiting for a
 * full state needs nothing older than the full state it was sent (or
 * nothing at all until it is sent one).
 */
function needs (id: string, n: Neighbour, e: Entry<unknown>): boolean {
  if (e.origin === id) return false
  if (n.needsFull) return n.fullSeq >= 0 && e.seq > n.fullSeq
  return e.seq > n.acked
}

export class DeltaBuffer<T extends Crdt> {
  private readonly maxEntries: number
  private readonly maxBytes: number
  private readonly sizeOf: (delta: T) => number
  private readonly bp: boolean
  private readonly rr: boolean
  private entries: Array<Entry<T>> = []
  private bytes = 0
  private seq = 0
  private redundantDropped = 0
  private evicted = 0
  private readonly neighbours = new Map<string, Neighbour>()

  constructor (init: DeltaBufferInit<T> = {}) {
    this.maxEntries = init.maxEntries ?? 1024
    this.maxBytes = init.maxBytes ?? 4 * 1024 * 1024
    if (!Number.isSafeInteger(this.maxEntries) || this.maxEntries < 1) throw new CrdtArgumentError('maxEntries', 'must be a positive integer')
    if (!Number.isSafeInteger(this.maxBytes) || this.maxBytes < 1) throw new CrdtArgumentError('maxBytes', 'must be a positive integer')
    this.sizeOf = init.sizeOf ?? encodedSize
    this.bp = init.avoidBackPropagation ?? true
    this.rr = init.removeRedundant ?? true
  }

  /** Start tracking a neighbour. Unless `synced`, its first message is the full state. */
  addNeighbour (id: string, options: { synced?: boolean } = {}): void {
    if (this.neighbours.has(id)) return
    this.neighbours.set(id, { acked: this.seq, needsFull: options.synced !== true, fullSeq: -1 })
  }

  removeNeighbour (id: string): void {
    this.neighbours.delete(id)
    this.gc()
  }

  hasNeighbour (id: string): boolean {
    return this.neighbours.has(id)
  }

  /** Buffer the delta of a local mutation; returns its sequence number. */
  recordLocal (delta: T): number {
    if (isEmptyDelta(delta)) return this.seq
    return this.push(delta, null)
  }

  /**
   * Buffer a delta received from `from`. `state` is the local state before
   * the delta is joined. Returns the novel part of the delta (join it into
   * the state; the result equals joining the whole delta), or null when the
   * delta brought nothing new.
   */
  recordReceived (delta: T, from: string, state: T): T | null {
    const novel = extractNew(delta, state)
    if (isEmptyDelta(novel)) { this.redundantDropped++; return null }
    this.push(this.rr ? novel : delta, this.bp ? from : null)
    return novel
  }

  /**
   * What to send to neighbour `to` now: a delta-group of the buffered
   * deltas it has not acknowledged and did not send us, the full state when
   * it needs it, or null when it is up to date.
   */
  outgoing (to: string, state: T): DeltaGroup<T> | null {
    const n = this.neighbours.get(to)
    if (n == null) throw new CrdtArgumentError('to', `unknown neighbour ${to}`)
    if (n.needsFull) {
      // Remember the first full state sent: an ack of it (or of a later one) catches the neighbour up.
      if (n.fullSeq < 0) n.fullSeq = this.seq
      return { seq: this.seq, full: true, state }
    }
    let group: T | null = null
    for (const e of this.entries) {
      if (e.seq <= n.acked || e.origin === to) continue
      group = group == null ? e.delta : join(group, e.delta)
    }
    if (group == null) {
      // Everything pending came from `to` itself: it has it already.
      n.acked = this.seq
      this.gc()
      return null
    }
    return { seq: this.seq, full: false, state: group }
  }

  /** `to` acknowledged the message sent with sequence number `seq`. */
  ack (to: string, seq: number): void {
    const n = this.neighbours.get(to)
    if (n == null || !Number.isSafeInteger(seq) || seq > this.seq) return
    if (n.needsFull) {
      if (n.fullSeq < 0 || seq < n.fullSeq) return
      n.needsFull = false
    }
    if (seq > n.acked) n.acked = seq
    this.gc()
  }

  stats (): DeltaBufferStats {
    return {
      entries: this.entries.length,
      bytes: this.bytes,
      neighbours: this.neighbours.size,
      lastSeq: this.seq,
      redundantDropped: this.redundantDropped,
      evicted: this.evicted
    }
  }

  private push (delta: T, origin: string | null): number {
    this.seq++
    const bytes = this.sizeOf(delta)
    this.entries.push({ seq: this.seq, delta, origin, bytes })
    this.bytes += bytes
    this.enforceBounds()
    return this.seq
  }

  /** Drop entries every neighbour has (acked, or sent by it). */
  private gc (): void {
    let drop = 0
    for (const e of this.entries) {
      let needed = false
      for (const [id, n] of this.neighbours) {
        if (needs(id, n, e)) { needed = true; break }
      }
      if (needed) break
      drop++
    }
    if (drop > 0) this.dropOldest(drop)
  }

  private enforceBounds (): void {
    this.gc()
    while (this.entries.length > this.maxEntries || (this.bytes > this.maxBytes && this.entries.length > 0)) {
      const e = this.entries[0]
      for (const [id, n] of this.neighbours) {
        if (needs(id, n, e)) {
          // It will never get this delta: only a (newer) full state can catch it up.
          n.needsFull = true
          n.fullSeq = -1
          this.evicted++
        }
      }
      this.dropOldest(1)
    }
  }

  private dropOldest (count: number): void {
    for (const e of this.entries.slice(0, count)) this.bytes -= e.bytes
    this.entries = this.entries.slice(count)
  }
}

export function createDeltaBuffer<T extends Crdt> (init: DeltaBufferInit<T> = {}): DeltaBuffer<T> {
  return new DeltaBuffer<T>(init)
}
