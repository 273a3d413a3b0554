/**
 * The `Sink` manifest kind: checked (the source service exists, the region
 * policy holds) and kept in the federation catalogue, so every peer learns
 * it (the shipping replica takes snapshots, any peer accepts emitted records).
 */
import { ServiceNotFoundError } from '../services/errors.js'
import { checkRegionPolicy, sinkSpecOf } from './spec.js'
import type { SinkSourceBackend } from './service.js'
import type { Catalogue } from '../catalogue/index.js'
import type { KindHandler } from '../services/manifests/index.js'

export function sinkManifestHandler (catalogue: () => Catalogue, backend: () => SinkSourceBackend | undefined): KindHandler {
  return {
    role: 'services',
    async check (m) {
      const spec = sinkSpecOf(m.metadata.name, m.spec)
      if (spec.service == null) return
      const b = backend()
      if (b?.has(spec.service) !== true) throw new ServiceNotFoundError(spec.service)
      checkRegionPolicy(spec, (await b.status(spec.service)).spec.zones)
    },
    async apply (m) {
      const spec = sinkSpecOf(m.metadata.name, m.spec)
      await catalogue().putManifest({ kind: 'Sink', name: m.metadata.name, spec: m.spec, ...(m.metadata.labels != null ? { labels: m.metadata.labels } : {}) })
      return { sink: spec.name, ...(spec.service != null ? { service: spec.service } : {}), intervalMs: spec.intervalMs, destination: spec.destination.kind }
    }
  }
}
