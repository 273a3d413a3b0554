/**
 * The OpenTelemetry SDK, loaded only when tracing is on (a dynamic import
 * from ./index.ts): a tracer provider with a batch processor and an OTLP
 * exporter (http/protobuf or grpc), the W3C trace context propagator and the
 * AsyncLocalStorage context manager, registered with the API for this
 * process.
 */
import { context, propagation, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { AlwaysOffSampler, AlwaysOnSampler, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, TracerProvider } from '@opentelemetry/sdk-trace'
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions'
import { setTracingState } from './spans.js'
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics'
import { CpuMeter } from '../contract.js'
import type { PushMetricExporter } from '@opentelemetry/sdk-metrics'
import type { Resource } from '@opentelemetry/resources'
import type { Sampler, SpanExporter } from '@opentelemetry/sdk-trace'
import type { TelemetryContract } from '../contract.js'
import type { TracingSettings } from './settings.js'
import type { TracingHandle, TracingResource } from './index.js'

function sampler (s: TracingSettings['sampler']): Sampler {
  const root = s.ratio >= 1 ? new AlwaysOnSampler() : s.ratio <= 0 ? new AlwaysOffSampler() : new TraceIdRatioBasedSampler(s.ratio)
  return s.parentBased ? new ParentBasedSampler({ root }) : root
}

async function exporter (settings: TracingSettings): Promise<SpanExporter> {
  if (settings.protocol === 'grpc') {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-grpc')
    // gRPC metadata: the exporter reads OTEL_EXPORTER_OTLP_(TRACES_)HEADERS itself
    return new OTLPTraceExporter({ url: settings.url })
  }
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto')
  return new OTLPTraceExporter({ url: settings.url, headers: settings.headers })
}

async function metricExporter (settings: TracingSettings, url: string): Promise<PushMetricExporter> {
  if (settings.protocol === 'grpc') {
    const { OTLPMetricExporter } = await import('@opentelemetry/exporter-metrics-otlp-grpc')
    return new OTLPMetricExporter({ url })
  }
  const { OTLPMetricExporter } = await import('@opentelemetry/exporter-metrics-otlp-proto')
  return new OTLPMetricExporter({ url, headers: settings.headers })
}

/**
 * The telemetry contract as OTLP metrics: gauges `cpu_usage` (unit 1, this
 * exporter's own CPU meter: the share since its previous export) and
 * `latency_p95` (unit s, one point per operation/function series of the
 * node's latency window).
 */
async function startContractMetrics (settings: TracingSettings, resource: Resource, contract: TelemetryContract): Promise<MeterProvider | undefined> {
  if (settings.metrics == null) return undefined
  const reader = new PeriodicExportingMetricReader({
    exporter: await metricExporter(settings, settings.metrics.url),
    exportIntervalMillis: settings.metrics.intervalMs,
    exportTimeoutMillis: Math.min(30_000, settings.metrics.intervalMs)
  })
  const provider = new MeterProvider({ resource, readers: [reader] })
  const meter = provider.getMeter('dcis-mesh')
  const cpu = new CpuMeter()
  meter.createObservableGauge('cpu_usage', { unit: '1', description: 'share of the host CPU capacity (all cores = 1) this peer used since the previous export' })
    .addCallback((r) => { r.observe(cpu.sample()) })
  meter.createObservableGauge('latency_p95', { unit: 's', description: 'p95 latency of what this peer served over the last minute, by operation (api, invoke) and function' })
    .addCallback((r) => { for (const s of contract.latency.snapshot()) r.observe(s.value, s.labels) })
  return provider
}

export async function startSdk (settings: TracingSettings, resource: TracingResource, contract?: TelemetryContract): Promise<TracingHandle> {
  // OTEL_RESOURCE_ATTRIBUTES (parsed in settings) under ours
  const fromEnv = resourceFromAttributes(settings.resourceAttributes)
  const ours = resourceFromAttributes({
    [ATTR_SERVICE_NAME]: settings.serviceName,
    [ATTR_SERVICE_VERSION]: resource.version,
    'service.instance.id': resource.peerId,
    'dcis.peer.id': resource.peerId,
    'dcis.region': resource.region,
    'dcis.zone': resource.zone,
    'cloud.region': resource.region,
    'cloud.availability_zone': resource.zone
  })
  const merged = fromEnv.merge(ours)
  const meters = contract != null ? await startContractMetrics(settings, merged, contract) : undefined
  const provider = new TracerProvider({
    // OTEL_SERVICE_NAME was folded into settings.serviceName
    resource: merged,
    sampler: sampler(settings.sampler),
    spanProcessors: [new BatchSpanProcessor({ exporter: await exporter(settings), scheduledDelayMillis: 1000, maxQueueSize: 4096 })]
  })
  const contextManager = new AsyncLocalStorageContextManager().enable()
  context.setGlobalContextManager(contextManager)
  propagation.setGlobalPropagator(new W3CTraceContextPropagator())
  trace.setGlobalTracerProvider(provider)
  setTracingState(provider.getTracer('dcis-mesh', resource.version), { domain: settings.domain, salt: settings.salt, hashFunctionNames: settings.hashFunctionNames })
  return {
    settings,
    flush: async () => {
      await provider.forceFlush()
      await meters?.forceFlush()
    },
    stop: async () => {
      setTracingState(undefined)
      try {
        await provider.shutdown()
        await meters?.shutdown()
      } finally {
        trace.disable()
        propagation.disable()
        context.disable()
      }
    }
  }
}
