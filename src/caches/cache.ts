/**
 * One read-through edge cache (manifest kind `EdgeCache`) on one peer: an
 * LRU of at most `maxEntries` values fetched from an HTTP backend, fresh for
 * `ttlMs`, then (optionally) served stale for `staleWhileRevalidateMs`
 * while one background refresh runs. Misses are single-flight: concurrent
 * readers of a key share one backend request. Every entry is tagged with
 * its origin region (the backend's `x-data-region` response header, else
 * the spec's `backend.region`); it is cached and served only on a peer whose
 * region is allowed, and only if its origin is allowed. Entries are never
 * replicated: each peer fills its own cache.
 */
import { raceSignal } from 'race-signal'
import { CacheBackendError, CacheKeyNotFoundError, RegionDeniedError } from './errors.js'

export interface EdgeCacheSpec {
  name: string
  url: string
  backendRegion?: string
  headers: Record<string, string>
  timeoutMs: number
  maxEntries: number
  ttlMs: number
  staleWhileRevalidateMs: number
  maxValueBytes: number
  /** where entries may be served; empty = anywhere */
  regions: string[]
}

export function edgeCacheSpecOf (name: string, raw: Record<string, unknown>): EdgeCacheSpec {
  const s = raw as { backend: { url: string, region?: string, headers?: Record<string, string>, timeoutMs?: number }, maxEntries?: number, ttlMs?: number, staleWhileRevalidateMs?: number, maxValueBytes?: number, regions?: string[] }
  return {
    name,
    url: s.backend.url,
    ...(s.backend.region != null ? { backendRegion: s.backend.region } : {}),
    headers: s.backend.headers ?? {},
    timeoutMs: s.backend.timeoutMs ?? 5000,
    maxEntries: s.maxEntries ?? 10_000,
    ttlMs: s.ttlMs ?? 60_000,
    staleWhileRevalidateMs: s.staleWhileRevalidateMs ?? 0,
    maxValueBytes: s.maxValueBytes ?? 1024 * 1024,
    regions: s.regions ?? (s.backend.region != null ? [s.backend.region] : [])
  }
}

export interface CacheEntry {
  value: Uint8Array
  contentType: string
  originRegion: string | null
  fetchedAt: number
}

export type CacheOutcome = 'hit' | 'miss' | 'stale'

export interface CacheRead extends CacheEntry {
  outcome: CacheOutcome
}

export interface CacheStats { hits: number, misses: number, stale: number, entries: number, backendErrors: number }

export class EdgeCache {
  readonly stats: CacheStats = { hits: 0, misses: 0, stale: 0, entries: 0, backendErrors: 0 }
  private readonly entries = new Map<string, CacheEntry>()
  private readonly inflight = new Map<string, Promise<CacheEntry>>()

  constructor (readonly spec: EdgeCacheSpec, private readonly region: string, private readonly now: () => number = Date.now, private readonly onOutcome?: (o: CacheOutcome | 'error') => void) {}

  private allowed (region: string | null): boolean {
    return this.spec.regions.length === 0 || (region != null && this.spec.regions.includes(region))
  }

  /** reads `key` through the cache */
  async get (key: string, signal?: AbortSignal): Promise<CacheRead> {
    if (!this.allowed(this.region)) throw new RegionDeniedError(`cache ${this.spec.name} may not be served in region ${this.region} (allowed: ${this.spec.regions.join(', ')})`)
    const e = this.entries.get(key)
    const now = this.now()
    if (e != null) {
      const age = now - e.fetchedAt
      if (age < this.spec.ttlMs) {
        this.touch(key, e)
        this.count('hit')
        return { ...e, outcome: 'hit' }
      }
      if (age < this.spec.ttlMs + this.spec.staleWhileRevalidateMs) {
        this.touch(key, e)
        this.count('stale')
        // one background refresh; a failure keeps the stale entry until it ages out
        this.fetchOnce(key).catch(() => {})
        return { ...e, outcome: 'stale' }
      }
      this.entries.delete(key)
    }
    this.count('miss')
    const fresh = await raceSignal(this.fetchOnce(key), signal)
    return { ...fresh, outcome: 'miss' }
  }

  private count (o: CacheOutcome): void {
    if (o === 'hit') this.stats.hits++
    else if (o === 'miss') this.stats.misses++
    else this.stats.stale++
    this.onOutcome?.(o)
  }

  private touch (key: string, e: CacheEntry): void {
    this.entries.delete(key)
    this.entries.set(key, e)
  }

  /** single-flight: one backend request per key at a time */
  private async fetchOnce (key: string): Promise<CacheEntry> {
    const running = this.inflight.get(key)
    if (running != null) return running
    const p = this.fetch(key).finally(() => { this.inflight.delete(key) })
    this.inflight.set(key, p)
    return p
  }

  private async fetch (key: string): Promise<CacheEntry> {
    const enc = encodeURIComponent(key)
    const url = this.spec.url.includes('{key}') ? this.spec.url.replace('{key}', enc) : `${this.spec.url.replace(/\/$/, '')}/${enc}`
    let res: Response
    try {
      res = await fetch(url, { headers: this.spec.headers, signal: AbortSignal.timeout(this.spec.timeoutMs) })
    } catch (err) {
      this.backendError()
      throw new CacheBackendError(`cache ${this.spec.name}: backend unreachable: ${(err as Error).message}`)
    }
    if (res.status === 404) {
      await res.arrayBuffer().catch(() => undefined)
      this.entries.delete(key)
      throw new CacheKeyNotFoundError(this.spec.name, key)
    }
    if (res.status < 200 || res.status >= 300) {
      await res.arrayBuffer().catch(() => undefined)
      this.backendError()
      throw new CacheBackendError(`cache ${this.spec.name}: backend answered HTTP ${res.status}`)
    }
    const declared = Number(res.headers.get('content-length') ?? '0')
    if (declared > this.spec.maxValueBytes) {
      await res.body?.cancel().catch(() => undefined)
      this.backendError()
      throw new CacheBackendError(`cache ${this.spec.name}: value larger than maxValueBytes ${this.spec.maxValueBytes}`)
    }
    const value = new Uint8Array(await res.arrayBuffer())
    if (value.length > this.spec.maxValueBytes) {
      this.backendError()
      throw new CacheBackendError(`cache ${this.spec.name}: value larger than maxValueBytes ${this.spec.maxValueBytes}`)
    }
    const originRegion = res.headers.get('x-data-region') ?? this.spec.backendRegion ?? null
    if (!this.allowed(originRegion)) {
      throw new RegionDeniedError(`cache ${this.spec.name}: the backend's data is from region ${originRegion ?? 'unknown'}, outside ${this.spec.regions.join(', ')}`)
    }
    const entry: CacheEntry = { value, contentType: res.headers.get('content-type') ?? 'application/octet-stream', originRegion, fetchedAt: this.now() }
    this.entries.delete(key)
    this.entries.set(key, entry)
    while (this.entries.size > this.spec.maxEntries) {
      const oldest = this.entries.keys().next().value as string
      this.entries.delete(oldest)
    }
    this.stats.entries = this.entries.size
    return entry
  }

  private backendError (): void {
    this.stats.backendErrors++
    this.onOutcome?.('error')
  }

  size (): number {
    return this.entries.size
  }

  hitRatio (): number {
    const total = this.stats.hits + this.stats.misses + this.stats.stale
    return total === 0 ? 0 : (this.stats.hits + this.stats.stale) / total
  }
}
