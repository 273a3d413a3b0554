/**
 * Telemetry: structured logging (pino) and Prometheus metrics (prom-client).
 *
 * Nothing here is a module singleton: a node creates one root logger and one
 * metrics registry and hands them to its components, which derive
 * per-component loggers with `forComponent()`.
 */
export { createLogger, forComponent } from './logger.js'
export type { Logger, LoggerInit, LogLevel } from './logger.js'
export { createMetricsRegistry, reuseMetric } from './metrics.js'
export type { MetricsRegistry } from './metrics.js'
export { createProcessFaultMetrics, installProcessFaultHandlers, unhandledRejectionsMode, UNCAUGHT_EXIT_CODE } from './process-faults.js'
export type { ProcessFaultMetrics, ProcessFaultHandlersInit, ProcessLike } from './process-faults.js'
export { TrafficMeter } from './traffic.js'
export type { TrafficMeterInit } from './traffic.js'
export { telemetryContract, LatencyWindow, CpuMeter, CpuUsage, p95, CPU_USAGE_METRIC, LATENCY_P95_METRIC } from './contract.js'
export type { TelemetryContract, LatencyOperation } from './contract.js'
export { LogSampler } from './logger.js'
export type { SampledLevel } from './logger.js'
export { GzipLogExporter } from './log-export.js'
export type { LogExportInit, LogExportStats } from './log-export.js'
