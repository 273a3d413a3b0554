import { Registry, collectDefaultMetrics } from 'prom-client'

export type MetricsRegistry = Registry

/**
 * A fresh registry per node (never prom-client's global one), with the
 * process metrics (CPU, RSS, event-loop lag, GC) under the `dcis_` prefix.
 */
export function createMetricsRegistry (options: { processMetrics?: boolean } = {}): MetricsRegistry {
  const registry = new Registry()
  if (options.processMetrics !== false) {
    // the event-loop delay histogram samples on a libuv timer at this
    // resolution: 100 ms instead of prom-client's 10 ms (100 wake-ups a
    // second on an otherwise idle peer)
    collectDefaultMetrics({ register: registry, prefix: 'dcis_', eventLoopMonitoringPrecision: 100 })
  }
  return registry
}
