/**
 * The telemetry contract of the standard ("Observability by Default"): every
 * peer reports `cpu_usage` and `latency_p95`. On `/metrics` they follow
 * Prometheus conventions (base units, docs/observability.md has the mapping):
 *
 * - `cpu_usage`   -> `dcis_cpu_usage_ratio`: share of the host's CPU capacity
 *   (all cores = 1) this peer's process used since the previous scrape;
 * - `latency_p95` -> `dcis_latency_p95_seconds{operation}`: p95 of what this
 *   peer served over the last minute: `operation="api"` (every HTTP request)
 *   and `operation="invoke", function=<name>` (Wasm invocations run here).
 *
 * Both are computed when scraped (prom-client `collect`): no timer, and
 * recording a latency is an array push.
 */
import { availableParallelism } from 'node:os'
import { Gauge } from 'prom-client'
import type { MetricsRegistry } from './metrics.js'

export const CPU_USAGE_METRIC = 'dcis_cpu_usage_ratio'
export const LATENCY_P95_METRIC = 'dcis_latency_p95_seconds'

export type LatencyOperation = 'api' | 'invoke'

export interface LatencyWindowInit {
  /** how far back the p95 looks, default 60 s */
  windowMs?: number
  /** samples a p95 is computed over at most (the newest), default 4096 */
  maxSamples?: number
  now?: () => number
}

interface Series { labels: Record<string, string>, at: number[], v: number[] }

/** p95 by nearest rank of a non-empty list */
export function p95 (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)]
}

/** Sliding-window p95 per (operation, function), exported as `dcis_latency_p95_seconds`. */
export class LatencyWindow {
  private readonly series = new Map<string, Series>()
  private readonly windowMs: number
  private readonly maxSamples: number
  private readonly now: () => number
  readonly gauge: Gauge<'operation' | 'function'>

  constructor (registry: MetricsRegistry, init: LatencyWindowInit = {}) {
    this.windowMs = init.windowMs ?? 60_000
    this.maxSamples = init.maxSamples ?? 4096
    this.now = init.now ?? Date.now
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this
    this.gauge = new Gauge({
      name: LATENCY_P95_METRIC,
      help: 'telemetry contract latency_p95: p95 latency of what this peer served over the last minute (seconds), by operation (api, invoke) and function',
      labelNames: ['operation', 'function'] as const,
      registers: [registry],
      collect () { self.update() }
    })
  }

  record (operation: LatencyOperation, seconds: number, fn?: string): void {
    if (!Number.isFinite(seconds) || seconds < 0) return
    const labels: Record<string, string> = fn == null ? { operation } : { operation, function: fn }
    const key = fn == null ? operation : `${operation}\u0000${fn}`
    let s = this.series.get(key)
    if (s == null) {
      s = { labels, at: [], v: [] }
      this.series.set(key, s)
    }
    s.at.push(this.now())
    s.v.push(seconds)
    // amortised: let the arrays grow to twice the bound, then cut back to the newest maxSamples
    if (s.v.length >= 2 * this.maxSamples) {
      s.at.splice(0, s.v.length - this.maxSamples)
      s.v.splice(0, s.v.length - this.maxSamples)
    }
  }

  /** the current p95 of a series (seconds), null when it has no sample in the window */
  current (operation: LatencyOperation, fn?: string): number | null {
    this.update()
    const s = this.series.get(fn == null ? operation : `${operation}\u0000${fn}`)
    return s == null ? null : p95(this.newest(s.v))
  }

  private newest (v: number[]): number[] {
    return v.length > this.maxSamples ? v.slice(v.length - this.maxSamples) : v
  }

  /** every live series' labels and current p95 (seconds): what the OTLP `latency_p95` gauge reports */
  snapshot (): Array<{ labels: Record<string, string>, value: number }> {
    this.update()
    return [...this.series.values()].map(s => ({ labels: { ...s.labels }, value: p95(this.newest(s.v)) }))
  }

  /** prunes samples older than the window and sets the gauge */
  update (): void {
    const cutoff = this.now() - this.windowMs
    for (const [key, s] of this.series) {
      let drop = 0
      while (drop < s.at.length && s.at[drop] < cutoff) drop++
      if (drop > 0) {
        s.at.splice(0, drop)
        s.v.splice(0, drop)
      }
      if (s.v.length === 0) {
        this.series.delete(key)
        this.gauge.remove(s.labels)
      } else {
        this.gauge.set(s.labels, p95(this.newest(s.v)))
      }
    }
  }
}

export interface CpuUsageInit {
  cores?: number
  /** process CPU time so far in microseconds (user + system) */
  cpuMicros?: () => number
  /** monotonic clock in milliseconds */
  now?: () => number
}

/** Process CPU time over wall time over cores, between two calls of `sample()` (one meter per reader). */
export class CpuMeter {
  private lastCpu: number
  private lastAt: number
  private readonly cores: number
  private readonly cpuMicros: () => number
  private readonly now: () => number

  constructor (init: CpuUsageInit = {}) {
    this.cores = Math.max(1, init.cores ?? availableParallelism())
    this.cpuMicros = init.cpuMicros ?? (() => { const u = process.cpuUsage(); return u.user + u.system })
    this.now = init.now ?? (() => performance.now())
    // the first sample averages over the process's life
    this.lastCpu = 0
    this.lastAt = this.now() - process.uptime() * 1000
  }

  /** the ratio since the previous call */
  sample (): number {
    const cpu = this.cpuMicros()
    const at = this.now()
    const wallMs = at - this.lastAt
    const ratio = wallMs > 0 ? ((cpu - this.lastCpu) / 1000) / wallMs / this.cores : 0
    this.lastCpu = cpu
    this.lastAt = at
    return Math.min(1, Math.max(0, ratio))
  }
}

/** `dcis_cpu_usage_ratio`: the CPU meter, sampled at each scrape. */
export class CpuUsage extends CpuMeter {
  readonly gauge: Gauge

  constructor (registry: MetricsRegistry, init: CpuUsageInit = {}) {
    super(init)
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this
    this.gauge = new Gauge({
      name: CPU_USAGE_METRIC,
      help: 'telemetry contract cpu_usage: share of the host CPU capacity (all cores = 1) this peer used since the previous scrape',
      registers: [registry],
      collect () { this.set(self.sample()) }
    })
  }
}

export interface TelemetryContract {
  latency: LatencyWindow
  cpu: CpuUsage
}

const contracts = new WeakMap<MetricsRegistry, TelemetryContract>()

/** The contract metrics of a registry, created on first use (one set per node registry). */
export function telemetryContract (registry: MetricsRegistry): TelemetryContract {
  let c = contracts.get(registry)
  if (c == null) {
    c = { latency: new LatencyWindow(registry), cpu: new CpuUsage(registry) }
    contracts.set(registry, c)
  }
  return c
}
