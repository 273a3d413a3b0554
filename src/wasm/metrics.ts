/**
 * Prometheus metrics of the Wasm runtime, created once per registry.
 */
import { Counter, Gauge, Histogram } from 'prom-client'
import { telemetryContract } from '../telemetry/contract.js'
import type { LatencyWindow } from '../telemetry/contract.js'
import type { MetricsRegistry } from '../telemetry/index.js'
import { reuseMetric } from '../telemetry/metrics.js'

export interface WasmMetrics {
  invocations: Counter<'function' | 'outcome'>
  duration: Histogram<'function'>
  coldStarts: Counter<'function'>
  queued: Gauge
  workerReplacements: Counter
  /** the telemetry contract's latency_p95 window (operation="invoke") */
  latency: LatencyWindow
  /** host interface calls by op (granted ones) */
  hostCalls: Counter<'op'>
  /** host calls denied by grants or failed on the node's side */
  hostCallErrors: Counter<'op'>
}

export function createWasmMetrics (registry: MetricsRegistry): WasmMetrics {
  const registers = [registry]
  return {
    invocations: reuseMetric(registry, 'dcis_wasm_invocations_total', () => new Counter({
      name: 'dcis_wasm_invocations_total', help: 'Wasm function invocations by outcome', labelNames: ['function', 'outcome'] as const, registers
    })),
    duration: reuseMetric(registry, 'dcis_wasm_invoke_duration_seconds', () => new Histogram({
      name: 'dcis_wasm_invoke_duration_seconds',
      help: 'Execution time of Wasm invocations inside the worker',
      labelNames: ['function'] as const,
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1, 5],
      registers
    })),
    coldStarts: reuseMetric(registry, 'dcis_wasm_cold_starts_total', () => new Counter({
      name: 'dcis_wasm_cold_starts_total', help: 'Invocations that had to instantiate', labelNames: ['function'] as const, registers
    })),
    queued: reuseMetric(registry, 'dcis_wasm_queue_depth', () => new Gauge({
      name: 'dcis_wasm_queue_depth', help: 'Invocations waiting for a worker', registers
    })),
    workerReplacements: reuseMetric(registry, 'dcis_wasm_worker_replacements_total', () => new Counter({
      name: 'dcis_wasm_worker_replacements_total', help: 'Workers terminated and replaced (timeouts, aborts, crashes)', registers
    })),
    latency: telemetryContract(registry).latency,
    hostCalls: reuseMetric(registry, 'dcis_wasm_host_calls_total', () => new Counter({
      name: 'dcis_wasm_host_calls_total', help: 'Host interface calls made by functions (granted), by op', labelNames: ['op'] as const, registers
    })),
    hostCallErrors: reuseMetric(registry, 'dcis_wasm_host_call_errors_total', () => new Counter({
      name: 'dcis_wasm_host_call_errors_total', help: 'Host interface calls denied by the grants or failed on the node, by op', labelNames: ['op'] as const, registers
    }))
  }
}
