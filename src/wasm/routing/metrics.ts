/** Prometheus metrics of function routing and health checks, once per registry. */
import { Counter } from 'prom-client'
import type { MetricsRegistry } from '../../telemetry/index.js'
import { reuseMetric } from '../../telemetry/metrics.js'

export interface FunctionRoutingMetrics {
  /** where: local | forwarded (sent to a peer) | served (run for a peer); outcome: ok | error */
  routed: Counter<'where' | 'outcome'>
  healthChecks: Counter<'function' | 'result'>
  rollbacks: Counter<'function'>
}

export function createFunctionRoutingMetrics (registry: MetricsRegistry): FunctionRoutingMetrics {
  const registers = [registry]
  return {
    routed: reuseMetric(registry, 'dcis_wasm_routed_total', () => new Counter({
      name: 'dcis_wasm_routed_total', help: 'Function invocations by where they ran (local, forwarded to a peer, served for a peer) and outcome', labelNames: ['where', 'outcome'] as const, registers
    })),
    healthChecks: reuseMetric(registry, 'dcis_wasm_health_checks_total', () => new Counter({
      name: 'dcis_wasm_health_checks_total', help: 'Function health check probes by result (pass, fail)', labelNames: ['function', 'result'] as const, registers
    })),
    rollbacks: reuseMetric(registry, 'dcis_wasm_rollbacks_total', () => new Counter({
      name: 'dcis_wasm_rollbacks_total', help: 'Rollbacks of a function to its last known-good version after failing health checks', labelNames: ['function'] as const, registers
    }))
  }
}
