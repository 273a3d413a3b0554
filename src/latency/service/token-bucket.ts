/**
 * Per-sender token buckets for inbound gossip: `burst` messages at once,
 * refilled at one token per `refillMs`. Pure: the clock is passed in.
 * Memory is bounded: at most `maxSenders` buckets, least recently used
 * dropped first (a dropped sender starts again with a full bucket, which
 * costs at most one burst).
 */
import { LruMap } from '../lru.js'

export interface TokenBucketInit {
  /** tokens a sender may spend at once (>= 1) */
  burst: number
  /** ms to regain one token (> 0) */
  refillMs: number
  /** senders tracked (default 1024) */
  maxSenders?: number
}

interface Bucket {
  tokens: number
  at: number
}

export class SenderRateLimiter {
  readonly burst: number
  readonly refillMs: number
  private readonly buckets: LruMap<string, Bucket>

  constructor (init: TokenBucketInit) {
    if (!Number.isInteger(init.burst) || init.burst < 1) throw new RangeError(`burst must be an integer >= 1, got ${init.burst}`)
    if (!Number.isFinite(init.refillMs) || init.refillMs <= 0) throw new RangeError(`refillMs must be > 0, got ${init.refillMs}`)
    this.burst = init.burst
    this.refillMs = init.refillMs
    this.buckets = new LruMap(init.maxSenders ?? 1024)
  }

  /** Spend one token of `sender` at time `now` (ms); false if it has none left. */
  take (sender: string, now: number): boolean {
    const b = this.buckets.get(sender)
    if (b === undefined) {
      this.buckets.set(sender, { tokens: this.burst - 1, at: now })
      return true
    }
    // a clock that steps back refills nothing
    const elapsed = Math.max(0, now - b.at)
    b.tokens = Math.min(this.burst, b.tokens + elapsed / this.refillMs)
    b.at = Math.max(b.at, now)
    if (b.tokens < 1) return false
    b.tokens -= 1
    return true
  }

  forget (sender: string): void {
    this.buckets.delete(sender)
  }

  get size (): number {
    return this.buckets.size
  }
}
