/**
 * Whether and how a peer exports traces: the config file's `telemetry`
 * section, overridden by the standard OpenTelemetry environment variables
 * (the OTel convention: the environment of the process wins).
 *
 * On when `telemetry.tracing: true`, `OTEL_TRACES_EXPORTER=otlp`, or an
 * `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is
 * set; off again with `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`.
 * Pure: reads only what it is given.
 */
import type { TelemetryConfig } from '../../config/index.js'

export type OtlpProtocol = 'http/protobuf' | 'grpc'

export interface TracingSettings {
  /** where spans go: the full traces URL for http/protobuf, host:port URL for grpc */
  url: string
  protocol: OtlpProtocol
  serviceName: string
  /** head sampler */
  sampler: { parentBased: boolean, ratio: number }
  /** OTEL_RESOURCE_ATTRIBUTES, parsed */
  resourceAttributes: Record<string, string>
  /** the administrative domain (default: the federation) */
  domain: string
  /** salt of the boundary hashes */
  salt: string
  hashFunctionNames: boolean
  /** extra headers for the exporter (OTEL_EXPORTER_OTLP_HEADERS) */
  headers: Record<string, string>
  /** the telemetry contract (cpu_usage, latency_p95) as OTLP metrics to the same collector; null with OTEL_METRICS_EXPORTER=none */
  metrics: { url: string, intervalMs: number } | null
}

export class TracingSettingsError extends Error {
  readonly code = 'CONFIG_INVALID'
  constructor (readonly variable: string, reason: string) {
    super(`${variable}: ${reason}`)
    this.name = 'TracingSettingsError'
  }
}

const SAMPLERS = new Set(['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'])

/** `k=v,k2=v2` with percent-encoded values (OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS) */
export function parseKeyValues (variable: string, text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  if (text == null || text.trim() === '') return out
  for (const part of text.split(',')) {
    if (part.trim() === '') continue
    const eq = part.indexOf('=')
    if (eq <= 0) throw new TracingSettingsError(variable, `"${part.slice(0, 64)}" is not key=value`)
    const key = part.slice(0, eq).trim()
    let value: string
    try { value = decodeURIComponent(part.slice(eq + 1).trim()) } catch { throw new TracingSettingsError(variable, `the value of ${key} is not percent-encoded text`) }
    if (key.length > 255 || value.length > 4096) throw new TracingSettingsError(variable, `${key.slice(0, 64)} is too long`)
    out[key] = value
  }
  return out
}

function url (variable: string, text: string): string {
  let u: URL
  try { u = new URL(text) } catch { throw new TracingSettingsError(variable, `"${text.slice(0, 128)}" is not a URL`) }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TracingSettingsError(variable, 'must be an http:// or https:// URL')
  return u.toString()
}

/** null = tracing off (the default: no SDK is loaded, instrumentation costs a flag check) */
export function resolveTracingSettings (config: TelemetryConfig, federation: string, env: Record<string, string | undefined> = process.env): TracingSettings | null {
  const e = (k: string): string | undefined => { const v = env[k]; return v == null || v.trim() === '' ? undefined : v.trim() }
  if (e('OTEL_SDK_DISABLED')?.toLowerCase() === 'true') return null
  const exporter = e('OTEL_TRACES_EXPORTER')?.toLowerCase()
  if (exporter === 'none') return null
  if (exporter != null && exporter !== 'otlp') throw new TracingSettingsError('OTEL_TRACES_EXPORTER', `"${exporter}" is not supported (otlp or none)`)
  const tracesEndpoint = e('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT')
  const endpoint = e('OTEL_EXPORTER_OTLP_ENDPOINT')
  const on = config.tracing || exporter === 'otlp' || tracesEndpoint != null || endpoint != null
  if (!on) return null

  const protoText = e('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ?? e('OTEL_EXPORTER_OTLP_PROTOCOL') ?? config.otlpProtocol ?? 'http/protobuf'
  if (protoText !== 'http/protobuf' && protoText !== 'grpc') throw new TracingSettingsError('OTEL_EXPORTER_OTLP_PROTOCOL', `"${protoText}" is not supported (http/protobuf or grpc)`)
  const protocol: OtlpProtocol = protoText

  let target: string
  if (tracesEndpoint != null) {
    // the signal-specific variable is the full URL, used as is
    target = url('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', tracesEndpoint)
  } else {
    const base = endpoint != null ? url('OTEL_EXPORTER_OTLP_ENDPOINT', endpoint) : config.otlpEndpoint != null ? url('telemetry.otlpEndpoint', config.otlpEndpoint) : (protocol === 'grpc' ? 'http://localhost:4317/' : 'http://localhost:4318/')
    target = protocol === 'grpc' ? base : `${base.replace(/\/+$/, '')}/v1/traces`
  }

  const samplerName = (e('OTEL_TRACES_SAMPLER') ?? 'parentbased_traceidratio').toLowerCase()
  if (!SAMPLERS.has(samplerName)) throw new TracingSettingsError('OTEL_TRACES_SAMPLER', `"${samplerName}" is not one of ${[...SAMPLERS].join(', ')}`)
  let ratio = config.sampleRatio ?? 1
  const arg = e('OTEL_TRACES_SAMPLER_ARG')
  if (samplerName.endsWith('always_on')) ratio = 1
  else if (samplerName.endsWith('always_off')) ratio = 0
  else if (arg != null) {
    ratio = Number(arg)
    if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) throw new TracingSettingsError('OTEL_TRACES_SAMPLER_ARG', 'must be a number from 0 to 1')
  }

  let metrics: TracingSettings['metrics'] = null
  const metricsExporter = e('OTEL_METRICS_EXPORTER')?.toLowerCase()
  if (metricsExporter != null && metricsExporter !== 'otlp' && metricsExporter !== 'none') throw new TracingSettingsError('OTEL_METRICS_EXPORTER', `"${metricsExporter}" is not supported (otlp or none)`)
  if (metricsExporter !== 'none') {
    const metricsEndpoint = e('OTEL_EXPORTER_OTLP_METRICS_ENDPOINT')
    let metricsUrl: string
    if (metricsEndpoint != null) metricsUrl = url('OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', metricsEndpoint)
    else {
      const base = endpoint != null ? url('OTEL_EXPORTER_OTLP_ENDPOINT', endpoint) : config.otlpEndpoint != null ? url('telemetry.otlpEndpoint', config.otlpEndpoint) : (protocol === 'grpc' ? 'http://localhost:4317/' : 'http://localhost:4318/')
      metricsUrl = protocol === 'grpc' ? base : `${base.replace(/\/+$/, '')}/v1/metrics`
    }
    const intervalText = e('OTEL_METRIC_EXPORT_INTERVAL')
    const intervalMs = intervalText != null ? Number(intervalText) : 60_000
    if (!Number.isInteger(intervalMs) || intervalMs < 100 || intervalMs > 86_400_000) throw new TracingSettingsError('OTEL_METRIC_EXPORT_INTERVAL', 'must be an integer number of milliseconds from 100 to 86400000')
    metrics = { url: metricsUrl, intervalMs }
  }

  const resourceAttributes = parseKeyValues('OTEL_RESOURCE_ATTRIBUTES', e('OTEL_RESOURCE_ATTRIBUTES'))
  const serviceName = e('OTEL_SERVICE_NAME') ?? resourceAttributes['service.name'] ?? config.serviceName ?? 'dcis-mesh'
  return {
    url: target,
    protocol,
    serviceName,
    sampler: { parentBased: samplerName.startsWith('parentbased_'), ratio },
    resourceAttributes,
    domain: config.traceDomain ?? federation,
    salt: config.traceSalt ?? `dcis-trace-salt:${config.traceDomain ?? federation}`,
    hashFunctionNames: config.hashFunctionNames ?? false,
    headers: parseKeyValues('OTEL_EXPORTER_OTLP_HEADERS', e('OTEL_EXPORTER_OTLP_TRACES_HEADERS') ?? e('OTEL_EXPORTER_OTLP_HEADERS')),
    metrics
  }
}
