/**
 * The last few ping RTTs per peer, for the p50/p95 the metrics export.
 * (The estimator keeps its own short median filter; this window is longer
 * and only describes what was measured.) Pure and bounded: `size` samples per
 * peer, at most `maxPeers` peers (least recently probed dropped first).
 */
import { LruMap } from '../lru.js'

export interface RttQuantiles {
  p50: number
  p95: number
  count: number
}

export class RttWindows {
  readonly size: number
  private readonly windows: LruMap<string, number[]>

  constructor (size: number, maxPeers: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`size must be an integer >= 1, got ${size}`)
    this.size = size
    this.windows = new LruMap(maxPeers)
  }

  /** Record a sample; returns the peer evicted to make room, if any. */
  push (peerId: string, rttMs: number): string | undefined {
    const w = this.windows.get(peerId)
    if (w !== undefined) {
      w.push(rttMs)
      if (w.length > this.size) w.shift()
      return undefined
    }
    return this.windows.set(peerId, [rttMs])
  }

  quantiles (peerId: string): RttQuantiles | undefined {
    const w = this.windows.peek(peerId)
    if (w === undefined || w.length === 0) return undefined
    const s = [...w].sort((a, b) => a - b)
    return { p50: nearestRank(s, 0.5), p95: nearestRank(s, 0.95), count: s.length }
  }

  /** the least of the peer's last `k` samples */
  recentMin (peerId: string, k: number): number | undefined {
    const w = this.windows.peek(peerId)
    if (w === undefined || w.length === 0) return undefined
    return Math.min(...w.slice(-k))
  }

  delete (peerId: string): boolean {
    return this.windows.delete(peerId)
  }

  peerIds (): string[] {
    return this.windows.keys()
  }
}

/** Nearest-rank quantile of a sorted, non-empty list. */
export function nearestRank (sorted: readonly number[], q: number): number {
  const rank = Math.max(1, Math.ceil(q * sorted.length))
  return sorted[Math.min(sorted.length, rank) - 1]
}
