import { Registry, collectDefaultMetrics } from 'prom-client'
import { telemetryContract } from './contract.js'

export type MetricsRegistry = Registry

/**
 * prom-client's default metrics that break Prometheus naming rules
 * (`promtool check metrics`: gauges must not end in `_total`). Each is the
 * sum of a per-type gauge it sits beside (`dcis_nodejs_active_handles{type}`),
 * so dropping it loses nothing: `sum(dcis_nodejs_active_handles)`.
 */
const NON_CONFORMING_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']

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
    for (const name of NON_CONFORMING_DEFAULTS) registry.removeSingleMetric(`dcis_${name}`)
    // the telemetry contract (cpu_usage, latency_p95) is on every peer's /metrics from the start
    telemetryContract(registry)
  }
  return registry
}

/**
 * The metric `name` already on the registry, else `make()`'s: a component
 * started again on the same registry (a restarted service, a second
 * instance) keeps its series instead of failing on a duplicate name.
 */
export function reuseMetric<T> (registry: MetricsRegistry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make()
}
