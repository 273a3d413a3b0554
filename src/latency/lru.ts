/**
 * A bounded map that forgets the least recently used key when full.
 * Used to cap the peers an estimator tracks (memory stays bounded however
 * many peers gossip at it).
 *
 * Recency is a counter stamped on each use, so a hit costs one Map lookup;
 * the eviction scan (O(capacity)) runs only when a new key overflows.
 */
interface Slot<V> {
  value: V
  used: number
}

export class LruMap<K, V> {
  private readonly map = new Map<K, Slot<V>>()
  private tick = 0
  readonly capacity: number

  constructor (capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`)
    this.capacity = capacity
  }

  get size (): number {
    return this.map.size
  }

  /** Read and mark as recently used. */
  get (key: K): V | undefined {
    const slot = this.map.get(key)
    if (slot === undefined) return undefined
    slot.used = ++this.tick
    return slot.value
  }

  /** Read without touching the recency order. */
  peek (key: K): V | undefined {
    return this.map.get(key)?.value
  }

  has (key: K): boolean {
    return this.map.has(key)
  }

  /** Insert or replace (and mark as recently used); returns the evicted key, if any. */
  set (key: K, value: V): K | undefined {
    const slot = this.map.get(key)
    if (slot !== undefined) {
      slot.value = value
      slot.used = ++this.tick
      return undefined
    }
    this.map.set(key, { value, used: ++this.tick })
    if (this.map.size <= this.capacity) return undefined
    let oldest: K | undefined
    let oldestUsed = Infinity
    for (const [k, s] of this.map) {
      if (s.used < oldestUsed) {
        oldestUsed = s.used
        oldest = k
      }
    }
    this.map.delete(oldest as K)
    return oldest
  }

  delete (key: K): boolean {
    return this.map.delete(key)
  }

  /** Keys from least to most recently used. */
  keys (): K[] {
    return [...this.map.entries()].sort((a, b) => a[1].used - b[1].used).map(e => e[0])
  }
}
