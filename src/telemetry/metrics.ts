import { Registry, collectDefaultMetrics } from 'prom-client'

export type MetricsRegistry = Registry

/**
 * A fresh registry per node (never prom-client's global one), with the
 * process metrics (CPU, RSS, event-loop lag, GC) under the `dcis_` prefix.
 */
export function createMetricsRegistry (options: { processMetrics?: boolean } = {}): MetricsRegistry {
  const registry = new Registry()
  if (options.processMetrics !== false) {
    collectDefaultMetrics({ register: registry, prefix: 'dcis_' })
  }
  return registry
}
