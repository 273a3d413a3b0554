import { Counter, Histogram } from 'prom-client'
import type { Registry } from 'prom-client'
import { telemetryContract } from '../telemetry/contract.js'
import type { LatencyWindow } from '../telemetry/contract.js'

export interface ApiMetrics {
  requests: Counter<'method' | 'route' | 'status'>
  duration: Histogram<'method' | 'route'>
  /** the telemetry contract's latency_p95 window (operation="api") */
  latency: LatencyWindow
}

/**
 * The API's metrics in the node's registry, created once per server. `route`
 * is the route pattern (`/v1/services/:name/kv/:key`), never the raw URL, so
 * the label set stays small; unmatched requests count under `unmatched`.
 */
export function createApiMetrics (registry: Registry): ApiMetrics {
  const existing = (name: string): unknown => registry.getSingleMetric(name)
  const requests = (existing('dcis_api_requests_total') as ApiMetrics['requests'] | undefined) ?? new Counter({
    name: 'dcis_api_requests_total',
    help: 'HTTP API requests answered, by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry]
  })
  const duration = (existing('dcis_api_request_duration_seconds') as ApiMetrics['duration'] | undefined) ?? new Histogram({
    name: 'dcis_api_request_duration_seconds',
    help: 'HTTP API request handling time, by method and route pattern',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [registry]
  })
  return { requests, duration, latency: telemetryContract(registry).latency }
}
