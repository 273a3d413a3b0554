/**
 * Per-peer latency filter: the median of the last few RTT samples (Serf's
 * LatencyFilterSize = 3), so one delayed ping does not yank a coordinate.
 * Bounded: at most `maxPeers` peers are tracked (least recently used go).
 */
import { LruMap } from './lru.js'

export interface FilteredSample {
  /** median of the retained samples (ms) */
  medianMs: number
  /** samples retained (<= size) */
  count: number
  /** caller's clock at the newest sample */
  at: number
  /** samples pushed for this peer since it was first tracked */
  total: number
  /** half the range of the retained samples (ms): a direct answer's error bound */
  spreadMs: number
}

interface Window {
  samples: number[]
  next: number
  at: number
  medianMs: number
  total: number
}

export class LatencyFilter {
  private readonly peers: LruMap<string, Window>
  readonly size: number

  constructor (size = 3, maxPeers = 1024) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`filter size must be a positive integer, got ${size}`)
    this.size = size
    this.peers = new LruMap(maxPeers)
  }

  /** Add a sample and return the filtered value. */
  push (peer: string, rttMs: number, at: number): FilteredSample {
    let w = this.peers.get(peer)
    if (w === undefined) {
      w = { samples: [], next: 0, at, medianMs: rttMs, total: 0 }
      this.peers.set(peer, w)
    }
    if (w.samples.length < this.size) {
      w.samples.push(rttMs)
    } else {
      w.samples[w.next] = rttMs
    }
    w.next = (w.next + 1) % this.size
    w.at = at
    w.medianMs = medianOf(w.samples)
    if (w.total < 2 ** 31) w.total++
    return summarize(w)
  }

  /** The filtered value without adding a sample. */
  get (peer: string): FilteredSample | undefined {
    const w = this.peers.peek(peer)
    return w === undefined ? undefined : summarize(w)
  }

  delete (peer: string): void {
    this.peers.delete(peer)
  }

  /** Tracked peers, least recently sampled first. */
  peerIds (): string[] {
    return this.peers.keys()
  }

  get peerCount (): number {
    return this.peers.size
  }
}

function medianOf (samples: readonly number[]): number {
  const s = samples.slice().sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

function summarize (w: Window): FilteredSample {
  let lo = Infinity
  let hi = -Infinity
  for (const x of w.samples) {
    if (x < lo) lo = x
    if (x > hi) hi = x
  }
  return { medianMs: w.medianMs, count: w.samples.length, at: w.at, total: w.total, spreadMs: (hi - lo) / 2 }
}
