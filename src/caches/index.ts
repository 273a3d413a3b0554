/**
 * Edge caches (manifest kind `EdgeCache`): read-through caches of HTTP
 * backends with maxEntries, ttl, single-flight misses, optional
 * stale-while-revalidate and region tags. See docs/edge-caches.md.
 */
export { EdgeCache, edgeCacheSpecOf } from './cache.js'
export type { EdgeCacheSpec, CacheEntry, CacheRead, CacheOutcome, CacheStats } from './cache.js'
export { CacheService } from './service.js'
export type { CacheServiceComponents } from './service.js'
export { edgeCacheManifestHandler } from './manifest.js'
export { cacheRoutes } from './routes.js'
export { CacheNotFoundError, CacheKeyNotFoundError, CacheBackendError, RegionDeniedError, CACHE_ERROR_STATUS } from './errors.js'
