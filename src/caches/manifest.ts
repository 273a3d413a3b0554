/** The `EdgeCache` manifest kind: kept in the federation catalogue, so every peer can serve it. */
import { edgeCacheSpecOf } from './cache.js'
import type { Catalogue } from '../catalogue/index.js'
import type { KindHandler } from '../services/manifests/index.js'

export function edgeCacheManifestHandler (catalogue: () => Catalogue): KindHandler {
  return {
    role: 'services',
    async apply (m) {
      const spec = edgeCacheSpecOf(m.metadata.name, m.spec)
      await catalogue().putManifest({ kind: 'EdgeCache', name: m.metadata.name, spec: m.spec, ...(m.metadata.labels != null ? { labels: m.metadata.labels } : {}) })
      return { cache: spec.name, regions: spec.regions, ttlMs: spec.ttlMs, maxEntries: spec.maxEntries }
    }
  }
}
