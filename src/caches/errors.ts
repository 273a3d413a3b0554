/** Typed errors of edge caches; the HTTP layer maps names to statuses (CACHE_ERROR_STATUS). */

export class CacheNotFoundError extends Error {
  static readonly code = 'CACHE_NOT_FOUND'
  readonly code = CacheNotFoundError.code
  constructor (name: string) {
    super(`no edge cache named ${name}`)
    this.name = 'CacheNotFoundError'
  }
}

/** The backend has no such key (HTTP 404 from it). */
export class CacheKeyNotFoundError extends Error {
  static readonly code = 'KEY_NOT_FOUND'
  readonly code = CacheKeyNotFoundError.code
  constructor (cache: string, key: string) {
    super(`the backend of cache ${cache} has no ${JSON.stringify(key)}`)
    this.name = 'CacheKeyNotFoundError'
  }
}

/** The backend could not be reached or failed, and no stale entry may be served. */
export class CacheBackendError extends Error {
  static readonly code = 'CACHE_BACKEND_UNAVAILABLE'
  readonly code = CacheBackendError.code
  constructor (message: string) {
    super(message)
    this.name = 'CacheBackendError'
  }
}

/** This peer (or the entry's origin) is outside the cache's allowed regions. */
export class RegionDeniedError extends Error {
  static readonly code = 'REGION_DENIED'
  readonly code = RegionDeniedError.code
  constructor (message: string) {
    super(message)
    this.name = 'RegionDeniedError'
  }
}

export const CACHE_ERROR_STATUS: Readonly<Record<string, number>> = {
  CacheNotFoundError: 404,
  CacheKeyNotFoundError: 404,
  CacheBackendError: 502,
  RegionDeniedError: 403
}
