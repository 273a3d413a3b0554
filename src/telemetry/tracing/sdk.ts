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
import type { Sampler, SpanExporter } from '@opentelemetry/sdk-trace'
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

export async function startSdk (settings: TracingSettings, resource: TracingResource): Promise<TracingHandle> {
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
  const provider = new TracerProvider({
    // OTEL_SERVICE_NAME was folded into settings.serviceName
    resource: fromEnv.merge(ours),
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
    flush: async () => { await provider.forceFlush() },
    stop: async () => {
      setTracingState(undefined)
      try {
        await provider.shutdown()
      } finally {
        trace.disable()
        propagation.disable()
        context.disable()
      }
    }
  }
}
