/**
 * The edge caches on a peer: one EdgeCache per applied `EdgeCache`
 * manifest (kept in the federation catalogue), rebuilt when its spec
 * changes, with hit/miss metrics and the hit ratio per cache.
 */
import { Counter, Gauge } from 'prom-client'
import { EdgeCache, edgeCacheSpecOf } from './cache.js'
import { CacheNotFoundError } from './errors.js'
import type { CacheRead } from './cache.js'
import type { Logger, MetricsRegistry } from '../telemetry/index.js'
import { reuseMetric } from '../telemetry/metrics.js'

export interface CacheServiceComponents {
  /** this peer's region */
  region: string
  /** the applied EdgeCache manifests */
  manifests: () => Array<{ name: string, spec: Record<string, unknown> }>
  logger: Logger
  metrics?: MetricsRegistry
  now?: () => number
}

export class CacheService {
  private readonly caches = new Map<string, { cache: EdgeCache, specJson: string }>()
  private readonly requests?: Counter<'cache' | 'result'>
  private readonly ratio?: Gauge<'cache'>
  private readonly size?: Gauge<'cache'>

  constructor (private readonly c: CacheServiceComponents) {
    const registry = c.metrics
    if (registry != null) {
      const registers = [registry]
      this.requests = reuseMetric(registry, 'dcis_cache_requests_total', () => new Counter({ name: 'dcis_cache_requests_total', help: 'Edge cache reads by result (hit, miss, stale) and backend errors (error)', labelNames: ['cache', 'result'] as const, registers }))
      this.ratio = reuseMetric(registry, 'dcis_cache_hit_ratio', () => new Gauge({ name: 'dcis_cache_hit_ratio', help: 'Share of edge cache reads served from the cache (fresh or stale) since start', labelNames: ['cache'] as const, registers }))
      this.size = reuseMetric(registry, 'dcis_cache_entries', () => new Gauge({ name: 'dcis_cache_entries', help: 'Entries held by an edge cache on this peer', labelNames: ['cache'] as const, registers }))
    }
  }

  private refresh (): void {
    const seen = new Set<string>()
    for (const m of this.c.manifests()) {
      seen.add(m.name)
      const specJson = JSON.stringify(m.spec)
      if (this.caches.get(m.name)?.specJson === specJson) continue
      try {
        const spec = edgeCacheSpecOf(m.name, m.spec)
        const cache = new EdgeCache(spec, this.c.region, this.c.now, (o) => {
          this.requests?.inc({ cache: m.name, result: o })
          if (o !== 'error') this.ratio?.set({ cache: m.name }, cache.hitRatio())
          this.size?.set({ cache: m.name }, cache.size())
        })
        this.caches.set(m.name, { cache, specJson })
      } catch (err) {
        this.c.logger.warn({ cache: m.name, err: (err as Error).message }, 'ignoring a malformed edge cache spec')
      }
    }
    for (const name of [...this.caches.keys()]) if (!seen.has(name)) this.caches.delete(name)
  }

  cache (name: string): EdgeCache {
    this.refresh()
    const c = this.caches.get(name)
    if (c == null) throw new CacheNotFoundError(name)
    return c.cache
  }

  list (): string[] {
    this.refresh()
    return [...this.caches.keys()].sort()
  }

  async get (name: string, key: string, options: { signal?: AbortSignal } = {}): Promise<CacheRead> {
    return this.cache(name).get(key, options.signal)
  }

  /** the host interface's cache_get: the value, or undefined when the backend has no such key */
  async read (name: string, key: string, options: { signal?: AbortSignal } = {}): Promise<Uint8Array | undefined> {
    try {
      return (await this.get(name, key, options)).value
    } catch (err) {
      if ((err as { code?: string }).code === 'KEY_NOT_FOUND') return undefined
      throw err
    }
  }
}
